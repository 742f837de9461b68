using ILGPU;
using ILGPU.Runtime;
using static DiffusionKernels.Kernels.Gpu.TensorCoreTile;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// y = (conv2d(x, w) + bias + sampleBias + residual) · scale on fp16 or bf16 tensor cores: the implicit GEMM of
/// <see cref="TensorCoreConv2dKernels"/> (C[Cout, N·Ho·Wo] = W[Cout, Cin·kh·kw] · im2col, gathered straight from x with
/// zeros for padding taps, the input upsampling and the per-sample bias of <see cref="Conv2dGeometry"/>) on
/// <see cref="HalfTile"/>'s slices and <see cref="MmaHalf"/> (m16n8k16, fp32 accumulation). x and w stay fp32 in memory
/// and are rounded to the 16-bit format as they are staged; the epilogue is fp32.
/// </summary>
internal sealed class HalfTensorCoreConv2dKernels
{
    private readonly Accelerator _accelerator;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, Conv2dGeometry>? _fp16, _bf16;

    /// <summary>Binds the launcher to <paramref name="accelerator"/>; each format's kernel is compiled on its first use.</summary>
    public HalfTensorCoreConv2dKernels(Accelerator accelerator) => _accelerator = accelerator;

    /// <summary>True when the accelerator fits the tiles (<see cref="HalfTile.Fits"/>).</summary>
    public bool IsAvailable => HalfTile.Fits(_accelerator);

    /// <summary>Queues the convolution with x and w rounded to <paramref name="type"/> (bias, sampleBias and residual read only when flagged; residual may be y itself).</summary>
    public void Run(AcceleratorStream stream, HalfType type, ArrayView<float> x, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> sampleBias,
        ArrayView<float> residual, ArrayView<float> y, Conv2dGeometry geometry)
    {
        if (geometry.SkipChannels != 0) throw new ArgumentException("conv2d: a concatenated input needs its skip tensor", nameof(geometry));
        Run(stream, type, x, x, w, bias, sampleBias, residual, y, geometry);
    }

    /// <summary>The overload above reading input channels past InChannels − SkipChannels from <paramref name="skip"/> (cat(x, skip)).</summary>
    public void Run(AcceleratorStream stream, HalfType type, ArrayView<float> x, ArrayView<float> skip, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> sampleBias,
        ArrayView<float> residual, ArrayView<float> y, Conv2dGeometry geometry)
    {
        if (geometry.SkipChannels < 0 || geometry.SkipChannels > geometry.InChannels)
            throw new ArgumentOutOfRangeException(nameof(geometry), $"conv2d: {geometry.SkipChannels} skip channels of {geometry.InChannels}");
        if (!IsAvailable) throw new NotSupportedException("the fp16/bf16 tensor-core convolution needs 32-lane warps, 128-thread groups and 10 KB of shared memory per group");
        long pixels = (long)geometry.Batch * geometry.OutHeight * geometry.OutWidth;
        long outputs = pixels * geometry.OutChannels;
        if (outputs == 0) return;
        if (outputs > int.MaxValue || x.Length > int.MaxValue || w.Length > int.MaxValue)
            throw new ArgumentException("conv2d: tensors over 2^31 elements are not supported by the GPU kernels");
        geometry.SetTiles((int)((pixels + TileN - 1) / TileN));
        long groups = (long)geometry.PixelTiles * ((geometry.OutChannels + TileM - 1) / TileM);
        if (groups > int.MaxValue) throw new ArgumentException($"conv2d: {groups} output tiles are more than one launch holds");
        var kernel = type == HalfType.Bf16
            ? _bf16 ??= _accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, Conv2dGeometry>(Bf16ImplicitGemm)
            : _fp16 ??= _accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, Conv2dGeometry>(Fp16ImplicitGemm);
        kernel(LaunchCounter.Count(stream), new KernelConfig(new Index1D((int)groups), new Index1D(Threads)), x, skip, w, bias, sampleBias, residual, y, geometry);
    }

    private static void Fp16ImplicitGemm(ArrayView<float> x, ArrayView<float> skip, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> sampleBias,
        ArrayView<float> residual, ArrayView<float> y, Conv2dGeometry g) => ImplicitGemm<Fp16Format>(x, skip, w, bias, sampleBias, residual, y, g);

    private static void Bf16ImplicitGemm(ArrayView<float> x, ArrayView<float> skip, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> sampleBias,
        ArrayView<float> residual, ArrayView<float> y, Conv2dGeometry g) => ImplicitGemm<Bf16Format>(x, skip, w, bias, sampleBias, residual, y, g);

    /// <summary>
    /// Group Y·PixelTiles + X owns output channels [64·Y, 64·Y + 64) (the M side) and output pixels
    /// [64·X, 64·X + 64) of the flattened N·Ho·Wo axis (the N side).
    /// </summary>
    private static void ImplicitGemm<TFormat>(ArrayView<float> x, ArrayView<float> skip, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> sampleBias,
        ArrayView<float> residual, ArrayView<float> y, Conv2dGeometry g)
        where TFormat : struct, IHalfFormat
    {
        var format = default(TFormat);
        var shared = SharedMemory.Allocate<uint>(HalfTile.SharedWords);
        int tid = Group.IdxX, lane = tid & (WarpSize - 1), warp = tid / WarpSize;
        int channelTile = g.PixelTilesDivisor.Divide(Grid.IdxX);
        int m0 = channelTile * TileM, p0 = (Grid.IdxX - channelTile * g.PixelTiles) * TileN;
        int k = g.InChannels * g.KernelHeight * g.KernelWidth;
        int hw = g.OutHeight * g.OutWidth;
        int pixels = g.Batch * hw;

        // The im2col column this thread gathers (one output pixel), decoded once; 2 words of 64 pixels per pass.
        const int GatherWordsPerPass = Threads / TileN;
        int gatherPixel = tid & (TileN - 1), gatherWord = tid / TileN;
        int pixel = p0 + gatherPixel;
        bool pixelValid = pixel < pixels;
        int image = g.OutPixelsDivisor.Divide(pixel), inImage = pixel - image * hw;
        int oy = g.OutWidthDivisor.Divide(inImage), ox = inImage - oy * g.OutWidth;
        int iyBase = oy * g.Stride - g.Padding, ixBase = ox * g.Stride - g.Padding;
        // Its rows are two progressions of step 4 across K tiles: the low halves k0 + 2·word, the high halves one row on.
        var low = default(TapCursor);
        var high = default(TapCursor);
        low.Start(g, 2 * gatherWord, 2 * GatherWordsPerPass);
        high.Start(g, 2 * gatherWord + 1, 2 * GatherWordsPerPass);
        // The weight words this thread loads: word tid % 16 of rows tid / 16 + 8·pass.
        const int WeightRowsPerPass = Threads / HalfTile.Words;
        int weightWord = tid & (HalfTile.Words - 1), weightRow = tid / HalfTile.Words;

        int warpRow = (warp >> 1) * 32, warpCol = (warp & 1) * 32;
        var acc = default(WarpTile);
        for (int k0 = 0; k0 < k; k0 += HalfTile.TileK)
        {
            int wk = k0 + 2 * weightWord;
            bool wk0Valid = wk < k, wk1Valid = wk + 1 < k;
            for (int pass = 0; pass < TileM / WeightRowsPerPass; pass++)
            {
                int r = weightRow + pass * WeightRowsPerPass, channel = m0 + r;
                bool channelValid = channel < g.OutChannels;
                int at = channel * k + wk;
                shared[r * HalfTile.Pitch + weightWord] = format.Pack(channelValid && wk0Valid ? w[at] : 0f, channelValid && wk1Valid ? w[at + 1] : 0f);
            }
            for (int pass = 0; pass < HalfTile.Words / GatherWordsPerPass; pass++)
            {
                int word = gatherWord + pass * GatherWordsPerPass, kIndex = k0 + 2 * word;
                float lo = pixelValid && kIndex < k ? ConvGather.LoadTap(x, skip, g, image, iyBase, ixBase, low) : 0f;
                float hi = pixelValid && kIndex + 1 < k ? ConvGather.LoadTap(x, skip, g, image, iyBase, ixBase, high) : 0f;
                shared[HalfTile.BOffset + gatherPixel * HalfTile.Pitch + word] = format.Pack(lo, hi);
                low.Advance(g);
                high.Advance(g);
            }
            Group.Barrier();
            HalfTile.MultiplyStage<TFormat, SharedViewAccess>(shared, warpRow, warpCol, lane, ref acc);
            Group.Barrier(); // the next slice overwrites the tile
        }

        // Lane (g, t) holds channels c, c + 8 and pixels q, q + 1 of each accumulator.
        int c = m0 + warpRow + (lane >> 2), q = p0 + warpCol + 2 * (lane & 3);
        ConvEpilogue.StoreWarpTile(y, bias, sampleBias, residual, g, c, q, hw, pixels, acc);
    }
}
