using ILGPU;
using ILGPU.Runtime;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// Register-level probes of the 16-bit tensor-core primitives, so the tests can check the ISA's per-lane layouts and
/// the packing without tile logic in between. <see cref="RunMma"/>: one warp, one <see cref="MmaHalf"/> instruction;
/// lane l packs its A values a[8l..8l+7] into A0..A3 (pairs in order, the first of each pair in the low half), B values
/// b[4l..4l+3] into B0, B1, starts from c[4l..4l+3] and writes D to d[4l..4l+3]. <see cref="RunPack"/>: one
/// <see cref="IHalfFormat.Pack"/> per element (on CUDA the <c>cvt</c> instruction itself).
/// </summary>
internal sealed class HalfMmaProbeKernels
{
    private readonly Accelerator _accelerator;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>? _mmaFp16, _mmaBf16;
    private Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<uint>>? _packFp16, _packBf16;

    /// <summary>Binds the probes to <paramref name="accelerator"/> (32-lane warps only).</summary>
    public HalfMmaProbeKernels(Accelerator accelerator)
    {
        if (accelerator.WarpSize != TensorCoreTile.WarpSize)
            throw new NotSupportedException($"mma fragments need 32-lane warps; this accelerator has {accelerator.WarpSize}");
        _accelerator = accelerator;
    }

    /// <summary>Queues the mma probe (one group of 32 threads). Views: a 256 floats, b 128, c and d 128.</summary>
    public void RunMma(AcceleratorStream stream, HalfType type, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> d)
    {
        var kernel = type == HalfType.Bf16
            ? _mmaBf16 ??= _accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(MmaBf16)
            : _mmaFp16 ??= _accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>>(MmaFp16);
        kernel(stream, new KernelConfig(new Index1D(1), new Index1D(TensorCoreTile.WarpSize)), a, b, c, d);
    }

    /// <summary>Queues packed[i] = Pack(lo[i], hi[i]) for every i.</summary>
    public void RunPack(AcceleratorStream stream, HalfType type, ArrayView<float> lo, ArrayView<float> hi, ArrayView<uint> packed)
    {
        var kernel = type == HalfType.Bf16
            ? _packBf16 ??= _accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<uint>>(PackBf16)
            : _packFp16 ??= _accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<uint>>(PackFp16);
        kernel(stream, new Index1D((int)packed.Length), lo, hi, packed);
    }

    private static void MmaFp16(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> d) => Mma<Fp16Format>(a, b, c, d);

    private static void MmaBf16(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> d) => Mma<Bf16Format>(a, b, c, d);

    private static void PackFp16(Index1D i, ArrayView<float> lo, ArrayView<float> hi, ArrayView<uint> packed) => packed[i] = default(Fp16Format).Pack(lo[i], hi[i]);

    private static void PackBf16(Index1D i, ArrayView<float> lo, ArrayView<float> hi, ArrayView<uint> packed) => packed[i] = default(Bf16Format).Pack(lo[i], hi[i]);

    private static void Mma<TFormat>(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> d)
        where TFormat : struct, IHalfFormat
    {
        var format = default(TFormat);
        int lane = Group.IdxX;
        int ai = 8 * lane, bi = 4 * lane, ci = 4 * lane;
        var fa = new MmaHalfFragmentA
        {
            A0 = format.Pack(a[ai], a[ai + 1]),
            A1 = format.Pack(a[ai + 2], a[ai + 3]),
            A2 = format.Pack(a[ai + 4], a[ai + 5]),
            A3 = format.Pack(a[ai + 6], a[ai + 7]),
        };
        var fb = new MmaHalfFragmentB { B0 = format.Pack(b[bi], b[bi + 1]), B1 = format.Pack(b[bi + 2], b[bi + 3]) };
        var acc = new MmaAccumulator { C0 = c[ci], C1 = c[ci + 1], C2 = c[ci + 2], C3 = c[ci + 3] };
        MmaHalf.Accumulate<TFormat>(ref acc, fa, fb);
        d[ci] = acc.C0;
        d[ci + 1] = acc.C1;
        d[ci + 2] = acc.C2;
        d[ci + 3] = acc.C3;
    }
}
