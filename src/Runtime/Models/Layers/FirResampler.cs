using DiffusionKernels.Runtime.Plan;

namespace DiffusionKernels.Runtime.Models.Layers;

/// <summary>
/// diffusers' parameter-free FIR resampling with the (1, 3, 3, 1) filter, factor 2 (upsample_2d / downsample_2d,
/// FirUpsample2D / FirDownsample2D without conv): K = outer(k, k) / Σ, times factor² when upsampling.
/// Down: upfirdn2d(x, K, down 2, pads (1, 1)); up: upfirdn2d(x, 4·K, up 2, pads (2, 1)); both keep H×W ×/÷ 2.
/// </summary>
internal sealed class FirResampler
{
    private static readonly float[] Taps = [1f, 3f, 3f, 1f];
    private const int Factor = 2;
    private readonly Tensor _down, _up;

    public FirResampler(ModelWeights w)
    {
        _down = w.Constant(Kernel(1f), Taps.Length, Taps.Length);
        _up = w.Constant(Kernel(Factor * Factor), Taps.Length, Taps.Length);
    }

    /// <summary>The normalized separable filter times <paramref name="gain"/>, computed in float32 as PyTorch does.</summary>
    public static float[] Kernel(float gain)
    {
        int n = Taps.Length;
        var k = new float[n * n];
        float sum = 0f;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) sum += k[i * n + j] = Taps[i] * Taps[j];
        for (int i = 0; i < k.Length; i++) k[i] = k[i] / sum * gain;
        return k;
    }

    // Pads follow diffusers: p = kernel − factor; down (⌈p/2⌉, ⌊p/2⌋); up (⌈p/2⌉ + factor − 1, ⌊p/2⌋).
    private static int PadValue => Taps.Length - Factor;

    public PlanValue Down(PlanBuilder pb, string name, PlanValue x)
    {
        var y = pb.Value(name, x.Shape[0], x.Shape[1], x.Shape[2] / Factor, x.Shape[3] / Factor);
        var b = pb.Backend;
        int before = (PadValue + 1) / 2, after = PadValue / 2;
        pb.Step(name, [x, y], t => b.UpFirDn2d(t[0], _down, t[1], 1, Factor, before, after), 2.0 * y.Shape.Length * _down.Length);
        return y;
    }

    public PlanValue Up(PlanBuilder pb, string name, PlanValue x)
    {
        var y = pb.Value(name, x.Shape[0], x.Shape[1], x.Shape[2] * Factor, x.Shape[3] * Factor);
        var b = pb.Backend;
        int before = (PadValue + 1) / 2 + Factor - 1, after = PadValue / 2;
        pb.Step(name, [x, y], t => b.UpFirDn2d(t[0], _up, t[1], Factor, 1, before, after), 2.0 * y.Shape.Length * _up.Length / (Factor * Factor));
        return y;
    }
}
