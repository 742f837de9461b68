using ILGPU;
using ILGPU.Algorithms;

namespace DiffusionKernels.Kernels;

/// <summary>
/// The ILGPU compiler settings every kernel here is built with: at run time (CUDA and the CPU emulator) and by the
/// offline PTX check, so what is checked is what runs.
/// </summary>
internal static class KernelCompilation
{
    /// <summary>
    /// O2: ILGPU infers address spaces (global loads and stores are <c>ld.global</c>/<c>st.global</c> rather than
    /// generic ones), hoists loop invariants and schedules blocks for PTX. O1 left every access generic.
    /// </summary>
    public const OptimizationLevel Level = OptimizationLevel.O2;

    /// <summary>Adds the algorithm intrinsics (<c>XMath</c>, warp and group reductions) and the optimization level.</summary>
    public static Context.Builder Configure(Context.Builder builder) => builder.EnableAlgorithms().Optimize(Level);
}
