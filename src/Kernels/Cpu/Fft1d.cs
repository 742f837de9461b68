namespace DiffusionKernels.Kernels.Cpu;

/// <summary>
/// Unscaled 1-D DFTs X_k = Σ_j x_j·e^{∓2πi jk/n} (− forward, + inverse) of <c>lines</c> lines stored as n rows of
/// <c>lines</c> values (element j of line l at [j·lines + l]), in place, by any <see cref="FftPlan"/>.
/// </summary>
internal static class Fft1d
{
    /// <summary>Transforms the lines of <paramref name="re"/>, <paramref name="im"/> ([n·lines] each) in place.</summary>
    public static unsafe void Transform(Span<float> re, Span<float> im, int lines, FftPlan plan, bool inverse)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (lines < 1) throw new ArgumentOutOfRangeException(nameof(lines), $"fft: lines must be ≥ 1, found {lines}");
        long need = (long)plan.Length * lines;
        if (re.Length != need || im.Length != need) throw new ArgumentException($"fft: {lines} lines of {plan.Length} need {need} values per part, found {re.Length} and {im.Length}");
        fixed (float* r = re, i = im) FftLanes.Transform(r, i, lines, plan, inverse);
    }
}
