using DiffusionKernels.Kernels.Gpu;
using ILGPU.Runtime.Cuda;

namespace DiffusionKernels.Runtime;

public sealed partial class IlgpuBackend
{
    private Precision _precision = Precision.Fp32;
    private TensorCoreConv2dKernels? _tensorCoreConv2d;

    /// <summary>
    /// The precision tier of this backend's GEMMs and convolutions: <see cref="Precision.Fp32"/> (the default, exact
    /// fp32 CUDA-core kernels), <see cref="Precision.Tf32"/> (TF32 tensor-core kernels), or <see cref="Precision.Fp16"/>
    /// and <see cref="Precision.Bf16"/> (16-bit tensor-core kernels); on the CPU emulator the tensor-core kernels run a
    /// fragment-exact emulation. Set it before compiling a plan or queuing work: each launch picks its kernel from the tier
    /// current when it is queued, so anything recorded for replay keeps the kernels it was recorded with.
    /// </summary>
    /// <exception cref="NotSupportedException">A tensor-core tier on a device without TF32/fp16/bf16 tensor cores (CUDA
    /// compute capability below 8.0) or without 32-lane warps and 128-thread groups.</exception>
    public Precision Precision
    {
        get => _precision;
        set
        {
            if (value is Precision.Tf32 or Precision.Fp16 or Precision.Bf16)
            {
                string name = value.Name();
                if (Accelerator is CudaAccelerator cuda && cuda.Architecture is { } arch && arch.Major < 8)
                    throw new NotSupportedException($"precision {name} needs {name} tensor cores (compute capability 8.0 or newer); {Name} is sm_{arch.Major}{arch.Minor}");
                if (!TensorCoreTile.Fits(Accelerator) || !HalfTile.Fits(Accelerator))
                    throw new NotSupportedException($"precision {name}: the tensor-core kernels need 32-lane warps and 128-thread groups, which {Name} does not offer");
            }
            else if (value != Precision.Fp32)
            {
                throw new ArgumentOutOfRangeException(nameof(value), value, "unknown precision");
            }
            _precision = value;
        }
    }
}
