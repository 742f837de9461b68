using ILGPU;
using ILGPU.Runtime;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// One warp, one <see cref="MmaTf32"/> instruction, registers in and out: lane l starts with A registers
/// a[4l..4l+3], B registers b[2l..2l+1] and accumulators c[4l..4l+3] and writes its D registers to d[4l..4l+3].
/// The caller places matrix elements by the ISA's fragment tables, so this checks the per-lane layout of the
/// emulation (and, on a GPU, of the instruction) without any tile logic in between.
/// </summary>
internal sealed class MmaProbeKernels
{
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>> _mma;

    /// <summary>Loads the probe for <paramref name="accelerator"/> (32-lane warps only).</summary>
    public MmaProbeKernels(Accelerator accelerator)
    {
        if (accelerator.WarpSize != TensorCoreTile.WarpSize)
            throw new NotSupportedException($"mma fragments need 32-lane warps; this accelerator has {accelerator.WarpSize}");
        _mma = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(Mma);
    }

    /// <summary>Queues the probe (one group of 32 threads). Views: a and c 128 floats, b 64, d 128.</summary>
    public void Run(AcceleratorStream stream, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> d) =>
        _mma(stream, new KernelConfig(new Index1D(1), new Index1D(TensorCoreTile.WarpSize)), a, b, c, d);

    private static void Mma(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> d)
    {
        int lane = Group.IdxX;
        var fa = new MmaFragmentA { A0 = a[4 * lane], A1 = a[4 * lane + 1], A2 = a[4 * lane + 2], A3 = a[4 * lane + 3] };
        var fb = new MmaFragmentB { B0 = b[2 * lane], B1 = b[2 * lane + 1] };
        var acc = new MmaAccumulator { C0 = c[4 * lane], C1 = c[4 * lane + 1], C2 = c[4 * lane + 2], C3 = c[4 * lane + 3] };
        MmaTf32.Accumulate(ref acc, fa, fb);
        d[4 * lane] = acc.C0;
        d[4 * lane + 1] = acc.C1;
        d[4 * lane + 2] = acc.C2;
        d[4 * lane + 3] = acc.C3;
    }
}
