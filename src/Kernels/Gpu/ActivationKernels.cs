using DiffusionKernels.Kernels.Cpu;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>y = act(x) element-wise, one thread per element; activation codes as in <see cref="Activations"/>.</summary>
public sealed class ActivationKernels
{
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, int> _activate;

    public ActivationKernels(Accelerator accelerator) =>
        _activate = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, int>(Activate);

    /// <summary>Queues y = act(x); y may be x.</summary>
    public void Run(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> y, int activation)
    {
        if (x.Length != y.Length) throw new ArgumentException($"activation: input has {x.Length} elements, output {y.Length}");
        Activations.CheckCode(activation);
        if (x.Length > 0) _activate(stream, checked((int)x.Length), x, y, activation);
    }

    private static void Activate(Index1D i, ArrayView<float> x, ArrayView<float> y, int activation) =>
        y[i] = NormActivationMath.Apply(x[i], activation);
}

/// <summary>
/// Scalar device code of the activations for the norm-family kernels, mirroring the CPU twin's formulas
/// (<see cref="Activations"/>) with <see cref="XMath"/> so it compiles for CUDA.
/// </summary>
internal static class NormActivationMath
{
    public static float Apply(float x, int activation)
    {
        if (activation == Activations.SiLU) return SiLU(x);
        if (activation == Activations.GeluTanh) return GeluTanh(x);
        if (activation == Activations.GeluExact) return GeluExact(x);
        if (activation == Activations.Mish) return Mish(x);
        if (activation == Activations.Relu) return x <= 0f ? 0f : x; // NaN passes through
        return x;
    }

    /// <summary>x / (1 + e^−x); −0 rather than NaN when e^−x overflows.</summary>
    public static float SiLU(float x) => x / (1f + XMath.Exp(-x));

    /// <summary>0.5·x·(1 + tanh u) written as x·sigmoid(2u).</summary>
    public static float GeluTanh(float x)
    {
        float twoU = x * (1.5957691216f + 0.044715f * 1.5957691216f * x * x);
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

    /// <summary>x·tanh(softplus x) = x·n/(n + 2), n = e^x(e^x + 2); x itself above 20.</summary>
    public static float Mish(float x)
    {
        if (x > 20f) return x;
        float e = XMath.Exp(x);
        float n = e * (e + 2f);
        return x * n / (n + 2f);
    }

    /// <summary>erf(a), 0 ≤ a ≤ 1.</summary>
    private static float ErfSmall(float a)
    {
        float w = a * a;
        float p = Activations.ErfP6 * w + Activations.ErfP5;
        p = p * w + Activations.ErfP4;
        p = p * w + Activations.ErfP3;
        p = p * w + Activations.ErfP2;
        p = p * w + Activations.ErfP1;
        p = p * w + Activations.ErfP0;
        return a * p;
    }

    /// <summary>erfc(a), a ≥ 1 (NaN stays NaN).</summary>
    private static float ErfcOfLarge(float a)
    {
        a = a > Activations.ErfcMaxArgument ? Activations.ErfcMaxArgument : a;
        float t = 2f / (2f + a);
        float q = Activations.ErfcQ8 * t + Activations.ErfcQ7;
        q = q * t + Activations.ErfcQ6;
        q = q * t + Activations.ErfcQ5;
        q = q * t + Activations.ErfcQ4;
        q = q * t + Activations.ErfcQ3;
        q = q * t + Activations.ErfcQ2;
        q = q * t + Activations.ErfcQ1;
        q = q * t + Activations.ErfcQ0;
        return XMath.Exp(-a * a) * t * q;
    }
}
