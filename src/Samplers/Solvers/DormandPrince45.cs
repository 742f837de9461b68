using DiffusionKernels.Runtime;

namespace DiffusionKernels.Samplers.Solvers;

/// <summary>
/// The probability-flow ODE dx/dσ = (x − x̂₀)/σ integrated by adaptive Dormand–Prince 5(4) (Dormand and Prince 1980;
/// Song et al. 2021 use RK45 for exact likelihoods and reference samples): from the grid's first σ to its last
/// non-zero σ with steps chosen by the embedded error estimate (max |err| ≤ atol + rtol·max |x| per sample), then
/// x̂₀ when the grid ends at 0. The grid's interior points are ignored; the NFE is the number of evaluations made.
/// </summary>
public sealed record DormandPrince45 : Solver
{
    /// <summary>Relative tolerance of the local error estimate.</summary>
    public double Rtol { get; init => field = SolverSettingException.AtLeast(value, 0, Name, "rtol"); } = 1e-5;
    /// <summary>Absolute tolerance of the local error estimate.</summary>
    public double Atol { get; init => field = SolverSettingException.AtLeast(value, 0, Name, "atol"); } = 1e-5;

    /// <inheritdoc/>
    public override string Name => "rk45";
    /// <inheritdoc/>
    public override int Order => 5;
    /// <inheritdoc/>
    public override bool Stochastic => false;
    /// <summary>Per accepted step (first-same-as-last); rejected steps cost more.</summary>
    public override int EvaluationsPerStep => 6;

    /// <inheritdoc/>
    public override IReadOnlyList<SolverSetting> Settings =>
    [
        SolverSetting.Of(this, "rtol", "rtol", "relative tolerance: max |error| ≤ atol + rtol·max |x| per accepted step", Rtol, v => this with { Rtol = v }),
        SolverSetting.Of(this, "atol", "atol", "absolute tolerance", Atol, v => this with { Atol = v }),
    ];

    private static readonly double[] C = [0, 1 / 5.0, 3 / 10.0, 4 / 5.0, 8 / 9.0, 1, 1];
    private static readonly double[][] A =
    [
        [],
        [1 / 5.0],
        [3 / 40.0, 9 / 40.0],
        [44 / 45.0, -56 / 15.0, 32 / 9.0],
        [19372 / 6561.0, -25360 / 2187.0, 64448 / 6561.0, -212 / 729.0],
        [9017 / 3168.0, -355 / 33.0, 46732 / 5247.0, 49 / 176.0, -5103 / 18656.0],
        [35 / 384.0, 0, 500 / 1113.0, 125 / 192.0, -2187 / 6784.0, 11 / 84.0],
    ];
    /// <summary>Fifth- minus fourth-order weights: the local error estimate.</summary>
    private static readonly double[] E = [35 / 384.0 - 5179 / 57600.0, 0, 500 / 1113.0 - 7571 / 16695.0, 125 / 192.0 - 393 / 640.0,
        -2187 / 6784.0 + 92097 / 339200.0, 11 / 84.0 - 187 / 2100.0, -1 / 40.0];

    /// <inheritdoc/>
    protected override IEnumerable<StepInfo> Run(Tensor x, double[] sigmas, SamplerContext ctx)
    {
        if (Rtol == 0 && Atol == 0) throw new SolverSettingException(Name, "rtol", "and atol are both 0: no step would be accepted");
        var b = ctx.Backend;
        double from = sigmas[0], to = sigmas[^1] > 0 ? sigmas[^1] : sigmas[^2];
        var k = Enumerable.Range(0, 7).Select(_ => ctx.Like()).ToArray();
        Tensor stage = ctx.Like(), den = ctx.Like(), err = ctx.Like();
        var batch = x.Shape[0];
        using var norms = b.Allocate(batch);
        var host = new float[batch];

        // kᵢ = dx/dσ = (x − x̂₀)/σ at a stage.
        void Slope(Tensor at, double sigma, Tensor into)
        {
            ctx.Denoiser.Denoise(at, sigma, den);
            Combination.Epsilon(at, den, sigma).WriteTo(b, into);
        }

        double MaxOver(Tensor t)
        {
            b.Reduce(t, norms, Reduction.MaxAbs);
            b.CopyToHost(norms, host);
            return host.Max();
        }

        double s = from, h = -(from - to) / 32;
        Slope(x, s, k[0]);
        int accepted = 0;
        while (s > to)
        {
            if (s + h < to) h = to - s;
            for (int i = 1; i < 7; i++)
            {
                // Stage i: x + h·Σⱼ aᵢⱼkⱼ at σ + cᵢh (the Butcher tableau).
                var stageX = new Combination().Add(1, x);
                for (int j = 0; j < i; j++) stageX.Add(h * A[i][j], k[j]);
                stageX.WriteTo(b, stage);
                Slope(stage, s + C[i] * h, k[i]);
            }
            var error = new Combination();
            for (int j = 0; j < 7; j++) error.Add(h * E[j], k[j]);
            error.WriteTo(b, err);
            double scale = Atol + Rtol * Math.Max(MaxOver(x), MaxOver(stage));
            double ratio = MaxOver(err) / scale;
            if (ratio <= 1)
            {
                b.Copy(stage, x); // the 7th stage is the fifth-order solution
                b.Copy(k[6], k[0]);
                s += h;
                yield return ctx.EndStep(accepted++, accepted, s - h, s, x);
            }
            h *= Math.Clamp(0.9 * Math.Pow(Math.Max(ratio, 1e-10), -0.2), 0.2, 5);
        }
        if (sigmas[^1] == 0)
        {
            ctx.Denoiser.Denoise(x, s, den);
            b.Copy(den, x);
        }
    }
}
