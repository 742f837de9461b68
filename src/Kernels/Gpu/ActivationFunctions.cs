using ILGPU.Algorithms;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// Fused activations understood by kernels (same order as the runtime's <c>Activation</c> enum; the Kernels
/// assembly does not reference the runtime, so the backends map one onto the other).
/// </summary>
public enum ActivationKind
{
    /// <summary>No activation.</summary>
    Identity,
    /// <summary>x·sigmoid(x).</summary>
    SiLU,
    /// <summary>GELU, tanh approximation.</summary>
    GeluTanh,
    /// <summary>GELU with the exact erf.</summary>
    GeluExact,
    /// <summary>x·tanh(softplus(x)).</summary>
    Mish,
    /// <summary>max(x, 0).</summary>
    Relu,
}

/// <summary>
/// Scalar activation functions written with <see cref="XMath"/>, so the same code runs inside ILGPU kernels
/// (CUDA and the CPU accelerator) and in the managed twins.
/// </summary>
public static class ActivationFunctions
{
    /// <summary>Applies <paramref name="kind"/> to <paramref name="x"/>.</summary>
    public static float Apply(ActivationKind kind, float x) => kind switch
    {
        ActivationKind.SiLU => Silu(x),
        ActivationKind.GeluTanh => GeluTanh(x),
        ActivationKind.GeluExact => GeluExact(x),
        ActivationKind.Mish => Mish(x),
        ActivationKind.Relu => Relu(x),
        _ => x,
    };

    /// <summary>x·sigmoid(x); exp(−x) overflowing to +∞ gives −0, the right limit.</summary>
    public static float Silu(float x) => x / (1f + XMath.Exp(-x));

    /// <summary>0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).</summary>
    public static float GeluTanh(float x)
    {
        const float sqrtTwoOverPi = 0.7978845608f;
        return 0.5f * x * (1f + XMath.Tanh(sqrtTwoOverPi * (x + 0.044715f * x * x * x)));
    }

    /// <summary>0.5·x·(1 + erf(x/√2)).</summary>
    public static float GeluExact(float x) => 0.5f * x * (1f + Erf(x * 0.70710678118f));

    /// <summary>x·tanh(softplus(x)), softplus written as max(x, 0) + log(1 + e^−|x|) so it never overflows.</summary>
    public static float Mish(float x)
    {
        float softplus = XMath.Max(x, 0f) + XMath.Log(1f + XMath.Exp(-XMath.Abs(x)));
        return x * XMath.Tanh(softplus);
    }

    /// <summary>max(x, 0).</summary>
    public static float Relu(float x) => x > 0f ? x : 0f;

    /// <summary>
    /// erf(x) to about 2e-7 absolute: a Maclaurin series (7 terms) for |x| &lt; 0.5, where it keeps relative
    /// accuracy near 0, and the Abramowitz–Stegun 7.1.26 rational-times-Gaussian form (error ≤ 1.5e-7) beyond.
    /// </summary>
    public static float Erf(float x)
    {
        float ax = XMath.Abs(x);
        if (ax < 0.5f)
        {
            // 2/√π · x · Σ (−1)ⁿ uⁿ / (n!(2n+1)) with u = x², Horner form; the n = 7 term is below 5e-10 here.
            float u = x * x;
            float s = 1f + u * (-1f / 3f + u * (1f / 10f + u * (-1f / 42f + u * (1f / 216f + u * (-1f / 1320f + u * (1f / 9360f))))));
            return 1.1283791671f * x * s;
        }
        if (ax >= 4f) return x > 0 ? 1f : -1f; // erfc(4) ≈ 1.5e-8
        float t = 1f / (1f + 0.3275911f * ax);
        float poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
        float r = 1f - poly * XMath.Exp(-ax * ax);
        return x > 0 ? r : -r;
    }
}
