namespace DiffusionKernels.Kernels;

/// <summary>
/// Element-wise nonlinearities (diffusers' <c>act_fn</c> names map onto these): the one activation type of the engine,
/// used by the <c>Backend</c> API, the CPU twins and the GPU kernels alike.
/// </summary>
public enum Activation
{
    /// <summary>No activation.</summary>
    Identity,
    /// <summary>x·sigmoid(x) ("silu", "swish").</summary>
    SiLU,
    /// <summary>GELU with the tanh approximation ("gelu_pytorch_tanh").</summary>
    GeluTanh,
    /// <summary>GELU with the exact erf ("gelu").</summary>
    GeluExact,
    /// <summary>x·tanh(softplus(x)).</summary>
    Mish,
    /// <summary>max(x, 0), with NaN passing through.</summary>
    Relu,
}
