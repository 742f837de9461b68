using DiffusionKernels.Runtime;

namespace DiffusionKernels.Samplers.Solvers;

/// <summary>
/// UniPC (Zhao et al. 2023), data prediction, order 3 (diffusers' UniPCMultistepScheduler math). With h = λ' − λ,
/// B(h) = −h (bh1) or e^{−h} − 1 (bh2), rₖ = (λₖ − λ)/h for the earlier evaluations, Dₖ = (x̂₀ₖ − x̂₀)/rₖ and
/// ρ solving Σₖ ρₖ rₖ^{i−1} = i!·gᵢ(−h)/B(h) (gᵢ the exponential-integrator remainders, ρ = ½ at order 2):
/// UniP x' = (σ'/σ)x + (1 − e^{−h})x̂₀ − B(h)Σₖ ρₖDₖ; UniC redoes the last step with the new evaluation x̂₀' (rₖ = 1,
/// D = x̂₀' − x̂₀) added: x'_c = (σ'/σ)x + (1 − e^{−h})x̂₀ − B(h)(Σₖ ρₖDₖ + ρ_c(x̂₀' − x̂₀)) and x̂₀' (taken at the
/// predicted x') feeds the next UniP, so NFE = steps. Warm-up orders 1, 2, 3; lower_order_final limits the order
/// to the steps left (diffusers' UniPC rule, whatever the step count); no corrector after the last step; a step to
/// σ = 0 is x̂₀.
/// </summary>
public sealed record UniPC : Solver
{
    private const int MaxOrder = 3;
    private readonly bool _bh2;

    /// <param name="bh2">B(h) = e^{−h} − 1 (bh2) rather than −h (bh1).</param>
    public UniPC(bool bh2) => _bh2 = bh2;

    /// <summary>diffusers' lower_order_final for UniPC: the order never exceeds the steps left.</summary>
    public bool LowerOrderFinal { get; init; } = true;

    /// <inheritdoc/>
    public override string Name => _bh2 ? "unipc_bh2" : "unipc_bh1";
    /// <inheritdoc/>
    public override int Order => MaxOrder + 1;
    /// <inheritdoc/>
    public override bool Stochastic => false;
    /// <inheritdoc/>
    public override int EvaluationsPerStep => 1;
    /// <inheritdoc/>
    public override IReadOnlyList<SolverSetting> Settings => [SolverSetting.LowerOrderFinal(this, LowerOrderFinal, v => this with { LowerOrderFinal = v })];

    /// <inheritdoc/>
    protected override IEnumerable<StepInfo> Run(Tensor x, double[] sigmas, SamplerContext ctx)
    {
        var b = ctx.Backend;
        // Denoised history, newest first, and the σ each was taken at: the predictor's order-1 earlier
        // evaluations plus the new one for the corrector.
        var den = new Tensor[MaxOrder + 1];
        for (int k = 0; k < den.Length; k++) den[k] = ctx.Like();
        var at = new double[MaxOrder + 1];
        Tensor last = ctx.Like();
        int steps = sigmas.Length - 1, lastOrder = 0;
        for (int i = 0; i < steps; i++)
        {
            double s = sigmas[i], next = sigmas[i + 1];
            History.Rotate(den);
            History.Rotate(at);
            at[0] = s;
            ctx.Denoiser.Denoise(x, s, den[0]);
            if (next == 0)
                b.Copy(den[0], x); // a step to σ = 0 is x̂₀
            else
            {
                if (i > 0)
                    // UniC: den[0] at the predicted x is the corrector's new point; den[1..] are the predictor's.
                    Update(last, at[1], s, den.AsSpan(1), at.AsSpan(1), lastOrder, den[0]).WriteTo(b, x);
                int order = Math.Min(MaxOrder, i + 1);
                if (LowerOrderFinal) order = Math.Min(order, steps - i);
                b.Copy(x, last);
                Update(x, s, next, den, at, order, null).WriteTo(b, x);
                lastOrder = order;
            }
            yield return ctx.EndStep(i, steps, s, next, x);
        }
    }

    /// <summary>
    /// The step σ → σ' from <paramref name="x"/> with history <paramref name="den"/> (newest, at σ, first) of the
    /// given order: UniP when <paramref name="corrector"/> is null, else UniC with the evaluation at σ'.
    /// </summary>
    private Combination Update(Tensor x, double s, double next, ReadOnlySpan<Tensor> den, ReadOnlySpan<double> at, int order, Tensor? corrector)
    {
        double h = Math.Log(s / next), hh = -h;
        double bh = _bh2 ? ExponentialIntegrator.Expm1(hh) : hh;
        var result = new Combination().Add(next / s, x).Add(-ExponentialIntegrator.Expm1(hh), den[0]);
        // Columns: the earlier evaluations (order − 1 of them), then the corrector's point at r = 1.
        int n = corrector is null ? order - 1 : order;
        if (n == 0) return result;
        var r = new double[n];
        var d = new Combination[n];
        for (int k = 0; k < order - 1; k++)
        {
            r[k] = Math.Log(s / at[k + 1]) / h; // (λₖ − λ)/h, negative
            d[k] = Combination.Difference(den[k + 1], den[0], 1 / r[k]);
        }
        if (corrector is not null)
        {
            r[n - 1] = 1;
            d[n - 1] = Combination.Difference(corrector, den[0]);
        }
        double[] rho;
        if (n == 1) rho = [0.5];
        else
        {
            var matrix = new double[n, n];
            var rhs = new double[n];
            double factorial = 1;
            for (int row = 0; row < n; row++)
            {
                factorial *= row + 1;
                rhs[row] = ExponentialIntegrator.G(row + 1, hh) * factorial / bh;
                for (int col = 0; col < n; col++) matrix[row, col] = Math.Pow(r[col], row);
            }
            rho = Solve(matrix, rhs);
        }
        for (int k = 0; k < n; k++) result.Add(-bh * rho[k], d[k]);
        return result;
    }

    /// <summary>Gaussian elimination with partial pivoting for the ≤ 3×3 systems of ρ.</summary>
    private static double[] Solve(double[,] a, double[] y)
    {
        int n = y.Length;
        for (int c = 0; c < n; c++)
        {
            int p = c;
            for (int r = c + 1; r < n; r++) if (Math.Abs(a[r, c]) > Math.Abs(a[p, c])) p = r;
            for (int k = 0; k < n; k++) (a[c, k], a[p, k]) = (a[p, k], a[c, k]);
            (y[c], y[p]) = (y[p], y[c]);
            for (int r = c + 1; r < n; r++)
            {
                double f = a[r, c] / a[c, c];
                for (int k = c; k < n; k++) a[r, k] -= f * a[c, k];
                y[r] -= f * y[c];
            }
        }
        var result = new double[n];
        for (int r = n - 1; r >= 0; r--)
        {
            double sum = y[r];
            for (int k = r + 1; k < n; k++) sum -= a[r, k] * result[k];
            result[r] = sum / a[r, r];
        }
        return result;
    }
}
