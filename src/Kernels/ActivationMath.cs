using ILGPU.Algorithms;

namespace DiffusionKernels.Kernels;

/// <summary>
/// The activations for one value, written with <see cref="XMath"/> so the same code runs inside ILGPU kernels (CUDA and
/// the CPU accelerator: the GEMM epilogue, GroupNorm, ScaleShift, the activation kernel) and on the host (the CPU
/// <c>Linear</c> epilogue). The formulas are those of the SIMD twin <see cref="Cpu.Activations"/>: only exponentials,
/// which on CUDA become <c>ex2.approx</c> of x·log₂e (2 ulp plus the rounding of the product); no <c>tanh.approx</c> or
/// <c>lg2.approx</c>, whose 2⁻¹¹ relative error the twins would not share.
/// </summary>
internal static class ActivationMath
{
    /// <summary>Applies <paramref name="activation"/> to <paramref name="x"/> (unknown values leave x as it is).</summary>
    public static float Apply(float x, Activation activation)
    {
        if (activation == Activation.SiLU) return SiLU(x);
        if (activation == Activation.GeluTanh) return GeluTanh(x);
        if (activation == Activation.GeluExact) return GeluExact(x);
        if (activation == Activation.Mish) return Mish(x);
        if (activation == Activation.Relu) return Relu(x);
        return x;
    }

    /// <summary>x / (1 + e^−x); −0 rather than NaN when e^−x overflows.</summary>
    public static float SiLU(float x) => x / (1f + XMath.Exp(-x));

    /// <summary>0.5·x·(1 + tanh u), u = √(2/π)·(x + 0.044715·x³), written as x·sigmoid(2u): one exponential, no tanh.</summary>
    public static float GeluTanh(float x)
    {
        float twoU = x * (TwoSqrtTwoOverPi + Cubic * x * x);
        return x / (1f + XMath.Exp(-twoU));
    }

    /// <summary>x·Φ(x) through erfc of |x|/√2, so the negative tail keeps relative accuracy.</summary>
    public static float GeluExact(float x)
    {
        float a = XMath.Abs(x) * 0.70710678118654752f;
        float erfc = a <= 1f ? 1f - ErfSmall(a) : ErfcOfLarge(a);
        float half = 0.5f * erfc;
        return x * (x < 0f ? half : 1f - half);
    }

    /// <summary>x·tanh(softplus x) = x·n/(n + 2), n = e^x(e^x + 2); x itself above 20 (where the ratio is 1 in float).</summary>
    public static float Mish(float x)
    {
        if (x > 20f) return x;
        float e = XMath.Exp(x);
        float n = e * (e + 2f);
        return x * n / (n + 2f);
    }

    /// <summary>max(x, 0) as a select, so NaN passes through.</summary>
    public static float Relu(float x) => x <= 0f ? 0f : x;

    internal const float TwoSqrtTwoOverPi = 1.5957691216f, Cubic = 0.044715f * TwoSqrtTwoOverPi;

    // erf(a) = a·P(a²) on [0, 1]: Chebyshev fit of erf(√w)/√w on w ∈ [0, 1], max error 1.2e-9.
    internal const float ErfP0 = 1.1283791658e+00f, ErfP1 = -3.7612626667e-01f, ErfP2 = 1.1283594715e-01f, ErfP3 = -2.6854212011e-02f,
        ErfP4 = 5.1890874234e-03f, ErfP5 = -8.0168642872e-04f, ErfP6 = 7.8758750627e-05f;

    // erfc(a) = e^(−a²)·t·Q(t), t = 2/(2 + a), on a ∈ [1, 10]: Chebyshev fit of erfc(a)·e^(a²)/t over
    // t ∈ [1/6, 2/3], max relative error 3.6e-9. Past a = 10 erfc is below float's smallest normal.
    internal const float ErfcQ0 = 2.8208257304e-01f, ErfcQ1 = 2.8242412536e-01f, ErfcQ2 = 2.4302549621e-01f, ErfcQ3 = 2.0101292555e-01f,
        ErfcQ4 = -1.4759013721e-02f, ErfcQ5 = 2.4232893466e-01f, ErfcQ6 = -4.3066840719e-01f, ErfcQ7 = 2.3858628428e-01f,
        ErfcQ8 = -4.3872026448e-02f;

    internal const float ErfcMaxArgument = 10f;

    /// <summary>erf(a), 0 ≤ a ≤ 1.</summary>
    private static float ErfSmall(float a)
    {
        float w = a * a;
        float p = ErfP6 * w + ErfP5;
        p = p * w + ErfP4;
        p = p * w + ErfP3;
        p = p * w + ErfP2;
        p = p * w + ErfP1;
        p = p * w + ErfP0;
        return a * p;
    }

    /// <summary>erfc(a), a ≥ 1 (NaN stays NaN).</summary>
    private static float ErfcOfLarge(float a)
    {
        a = a > ErfcMaxArgument ? ErfcMaxArgument : a;
        float t = 2f / (2f + a);
        float q = ErfcQ8 * t + ErfcQ7;
        q = q * t + ErfcQ6;
        q = q * t + ErfcQ5;
        q = q * t + ErfcQ4;
        q = q * t + ErfcQ3;
        q = q * t + ErfcQ2;
        q = q * t + ErfcQ1;
        q = q * t + ErfcQ0;
        return XMath.Exp(-a * a) * t * q;
    }
}
