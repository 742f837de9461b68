using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers.Schedules;

namespace DiffusionKernels.Samplers.Diffusers;

/// <summary>
/// What diffusers' σ-space schedulers (Euler, Euler ancestral, Heun, KDPM2, LMS) share: the sample is x = x₀ + σε,
/// the network sees x/√(σ² + 1), and a pipeline multiplies x_T by σ_max (linspace, trailing) or √(σ_max² + 1) (leading).
/// </summary>
internal static class SigmaSpace
{
    /// <summary>x̂₀ from the network output at σ: ε: x − σε̂; v: −σ/√(σ² + 1)·v̂ + x/(σ² + 1); sample: the output.</summary>
    public static LinearForm X0(string prediction, double sigma, Tensor sample, Tensor output) => prediction switch
    {
        "epsilon" => new LinearForm().Add(1, sample).Add(-sigma, output),
        "v_prediction" => new LinearForm().Add(-sigma / Math.Sqrt(sigma * sigma + 1), output).Add(1 / (sigma * sigma + 1), sample),
        _ => new LinearForm().Add(1, output),
    };

    /// <summary>(x − x̂₀)/σ.</summary>
    public static LinearForm Derivative(Tensor sample, LinearForm x0, double sigma) => new LinearForm().Add(1 / sigma, sample).Add(-1 / sigma, x0);

    /// <summary>init_noise_sigma: max σ, or √(max σ² + 1) for leading spacing (float32, as torch).</summary>
    public static double InitNoiseSigma(IEnumerable<float> sigmas, string spacing)
    {
        float max = sigmas.Max();
        return spacing == "leading" ? MathF.Sqrt(max * max + 1f) : max;
    }

    /// <summary>scale_model_input: 1/√(σ² + 1).</summary>
    public static double InputScale(double sigma) => 1 / Math.Sqrt(sigma * sigma + 1);

    /// <summary>Values rounded to float32 (diffusers stores its σ tables as float32).</summary>
    public static float[] F32(IEnumerable<double> values) => values.Select(v => (float)v).ToArray();
}
