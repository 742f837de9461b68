using DiffusionKernels.Kernels.Gpu;
using ILGPU.Runtime.Cuda;

namespace DiffusionKernels.Runtime;

public sealed partial class IlgpuBackend
{
    private Precision _precision = Precision.Fp32;
    private TensorCoreConv2dKernels? _tensorCoreConv2d;

    /// <summary>
    /// The precision tier of this backend's GEMMs and convolutions: <see cref="Precision.Fp32"/> (the default, exact
    /// fp32 CUDA-core kernels) or <see cref="Precision.Tf32"/> (TF32 tensor-core kernels; on the CPU emulator their
    /// fragment-exact emulation). Set it before compiling a plan or queuing work: each launch picks its kernel from the tier
    /// current when it is queued, so anything recorded for replay keeps the kernels it was recorded with.
    /// </summary>
    /// <exception cref="NotSupportedException">TF32 on a device without TF32 tensor cores (CUDA compute capability
    /// below 8.0) or without 32-lane warps and 128-thread groups.</exception>
    public Precision Precision
    {
        get => _precision;
        set
        {
            if (value == Precision.Tf32)
            {
                if (Accelerator is CudaAccelerator cuda && cuda.Architecture is { } arch && arch.Major < 8)
                    throw new NotSupportedException($"precision tf32 needs TF32 tensor cores (compute capability 8.0 or newer); {Name} is sm_{arch.Major}{arch.Minor}");
                if (!TensorCoreTile.Fits(Accelerator))
                    throw new NotSupportedException($"precision tf32: the tensor-core kernels need 32-lane warps and 128-thread groups, which {Name} does not offer");
            }
            else if (value != Precision.Fp32)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "unknown precision");
            }
            _precision = value;
        }
    }
}
