namespace DiffusionKernels.Samplers.Schedules;

/// <summary>
/// The σ grids diffusers' EulerDiscreteScheduler and DPMSolverMultistepScheduler build in <c>set_timesteps</c> for a
/// discrete schedule (length steps + 1, decreasing, ending on 0 or σ_min per <c>final_sigmas_type</c>), so a run here
/// can take the same noise levels as a diffusers pipeline.
/// </summary>
public static class DiffusersGrids
{
    /// <summary>
    /// EulerDiscreteScheduler: fractional timesteps (linspace: linspace(0, T−1, n); leading: arange(n)·(T // n) +
    /// steps_offset; trailing: round(arange(T, 0, −T/n)) − 1), σ interpolated linearly in σ between training steps;
    /// with <paramref name="karras"/>, n Karras points (ρ = 7) between the σ of the first and last of those timesteps.
    /// </summary>
    public static double[] Euler(DiscreteSchedule schedule, int steps, string spacing = "linspace", int stepsOffset = 0, bool karras = false, string finalSigmasType = "zero")
    {
        int T = CheckSteps(schedule, steps);
        var timesteps = spacing switch
        {
            "linspace" => Enumerable.Range(0, steps).Select(i => (double)(float)(steps == 1 ? 0 : i == steps - 1 ? T - 1 : i * ((T - 1.0) / (steps - 1)))).Reverse().ToArray(),
            "leading" => Enumerable.Range(0, steps).Select(i => (double)(i * (T / steps) + stepsOffset)).Reverse().ToArray(),
            "trailing" => Trailing(T, steps),
            _ => throw BadSpacing(spacing),
        };
        var sigmas = timesteps.Select(t => Interpolate(schedule.Sigmas, t)).ToArray();
        if (karras && steps > 1) sigmas = SigmaGrids.Karras(steps, sigmas[^1], sigmas[0])[..^1];
        return [.. sigmas, schedule.FinalSigma(finalSigmasType)];
    }

    /// <summary>
    /// DPMSolverMultistepScheduler (lambda_min_clipped = −∞): integer timesteps (linspace: round(linspace(0, T−1, n+1))
    /// without its first; leading: arange(n+1)·(T // (n+1)) + steps_offset without its first; trailing as Euler), σ
    /// interpolated linearly; with <paramref name="karras"/>, n Karras points over the whole training range.
    /// </summary>
    public static double[] DpmSolver(DiscreteSchedule schedule, int steps, string spacing = "linspace", int stepsOffset = 0, bool karras = false, string finalSigmasType = "zero")
    {
        int T = CheckSteps(schedule, steps);
        double[] sigmas;
        if (karras) sigmas = SigmaGrids.Karras(steps, schedule.SigmaMin, schedule.SigmaMax)[..^1];
        else
        {
            var timesteps = spacing switch
            {
                "linspace" => Enumerable.Range(1, steps).Select(i => Math.Round(i * ((T - 1.0) / steps), MidpointRounding.ToEven)).Reverse().ToArray(),
                "leading" => Enumerable.Range(1, steps).Select(i => (double)(i * (T / (steps + 1)) + stepsOffset)).Reverse().ToArray(),
                "trailing" => Trailing(T, steps),
                _ => throw BadSpacing(spacing),
            };
            sigmas = timesteps.Select(t => Interpolate(schedule.Sigmas, t)).ToArray();
        }
        return [.. sigmas, schedule.FinalSigma(finalSigmasType)];
    }

    private static int CheckSteps(DiscreteSchedule schedule, int steps)
    {
        int T = schedule.TrainTimesteps;
        if (steps < 1 || steps > T) throw new ArgumentOutOfRangeException(nameof(steps), $"steps must be in 1..{T}, found {steps}");
        return T;
    }

    /// <summary>round(arange(T, 0, −T/n)) − 1 (numpy rounds half to even).</summary>
    private static double[] Trailing(int T, int steps) =>
        Enumerable.Range(0, steps).Select(i => Math.Round(T - i * ((double)T / steps), MidpointRounding.ToEven) - 1).ToArray();

    /// <summary>np.interp over the training steps 0 … T−1 (clamped at the ends).</summary>
    private static double Interpolate(double[] table, double t)
    {
        if (t <= 0) return table[0];
        if (t >= table.Length - 1) return table[^1];
        int lo = (int)Math.Floor(t);
        double w = t - lo;
        return w == 0 ? table[lo] : table[lo] + w * (table[lo + 1] - table[lo]);
    }

    private static ArgumentException BadSpacing(string spacing) =>
        new($"timestep_spacing '{spacing}' is not supported (leading, trailing, linspace)");
}
