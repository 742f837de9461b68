namespace DiffusionKernels.Medical.Baselines;

/// <summary>One parameter value tried and its score.</summary>
internal readonly record struct Trial(double Value, double Score);

/// <summary>
/// Tunes one positive parameter (a regularization weight, a filter width) by maximizing a score on validation data:
/// a geometric grid, then <c>refinements</c> rounds that try the geometric midpoints around the best value so far.
/// Baselines are tuned this way on validation images, never on the images they are then tested on.
/// </summary>
internal static class ParameterSearch
{
    /// <summary>The value of <paramref name="grid"/> (and its refinements) with the highest <paramref name="score"/>, and all trials.</summary>
    public static (double Best, double Score, IReadOnlyList<Trial> Trials) Maximize(Func<double, double> score, IReadOnlyList<double> grid, int refinements = 2)
    {
        ArgumentNullException.ThrowIfNull(score);
        ArgumentNullException.ThrowIfNull(grid);
        if (grid.Count == 0 || grid.Any(v => !(v > 0) || double.IsInfinity(v))) throw new ArgumentException("parameter search: the grid must hold finite positive values");
        if (refinements < 0) throw new ArgumentOutOfRangeException(nameof(refinements), $"parameter search: refinements must be ≥ 0, found {refinements}");
        var trials = new List<Trial>();
        double Eval(double v)
        {
            foreach (var t in trials) if (t.Value == v) return t.Score;
            double s = score(v);
            if (double.IsNaN(s)) throw new ArithmeticException($"parameter search: the score of {v:G4} is NaN");
            trials.Add(new Trial(v, s));
            return s;
        }
        var sorted = grid.Distinct().OrderBy(v => v).ToArray();
        foreach (var v in sorted) Eval(v);
        double ratio = sorted.Length > 1 ? Math.Sqrt(sorted[1] / sorted[0]) : 2;
        for (int r = 0; r < refinements; r++)
        {
            var best = trials.MaxBy(t => t.Score);
            Eval(best.Value / ratio);
            Eval(best.Value * ratio);
            ratio = Math.Sqrt(ratio);
        }
        var winner = trials.MaxBy(t => t.Score);
        return (winner.Value, winner.Score, trials);
    }

    /// <summary><paramref name="count"/> values from <paramref name="lo"/> to <paramref name="hi"/>, evenly spaced in log.</summary>
    public static double[] LogGrid(double lo, double hi, int count)
    {
        if (!(lo > 0 && hi >= lo) || count < 1) throw new ArgumentException($"parameter search: bad grid {lo}…{hi} of {count}");
        if (count == 1) return [lo];
        return Enumerable.Range(0, count).Select(i => lo * Math.Pow(hi / lo, i / (double)(count - 1))).ToArray();
    }
}
