namespace DiffusionKernels.Runtime;

/// <summary>Element-wise nonlinearities (diffusers' <c>act_fn</c> names map onto these).</summary>
public enum Activation
{
    Identity,
    /// <summary>x·sigmoid(x) ("silu", "swish").</summary>
    SiLU,
    /// <summary>GELU with the tanh approximation ("gelu_pytorch_tanh").</summary>
    GeluTanh,
    /// <summary>GELU with the exact erf ("gelu").</summary>
    GeluExact,
    /// <summary>x·tanh(softplus(x)).</summary>
    Mish,
    Relu,
}

/// <summary>Per-sample reductions over all non-batch dimensions.</summary>
public enum Reduction
{
    Mean,
    /// <summary>Population standard deviation (divide by n).</summary>
    Std,
    MaxAbs,
    /// <summary>Count of NaN and ±Inf elements.</summary>
    NonFiniteCount,
}
