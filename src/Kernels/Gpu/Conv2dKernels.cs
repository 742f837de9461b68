using ILGPU;
using ILGPU.Runtime;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>Which convolution kernel <see cref="Conv2dKernels"/> launches.</summary>
internal enum Conv2dAlgorithm
{
    /// <summary>Implicit GEMM over shared-memory tiles with register blocking (the fast default).</summary>
    Tiled,
    /// <summary>The first tiled version: the same tiles, each gathered element decoded by integer divisions (<see cref="TapDivider"/>).</summary>
    TiledDividing,
    /// <summary>One thread per output, the plain loop: the correctness baseline.</summary>
    Direct,
}

/// <summary>Sizes of one convolution, passed to the kernels by value.</summary>
internal struct Conv2dGeometry
{
    public int Batch, InChannels, Height, Width, OutChannels, KernelHeight, KernelWidth, OutHeight, OutWidth, Stride, Padding;
    /// <summary>
    /// 1 when x holds the input at half its size, read through a nearest ×2 upsample (Height and Width are the upsampled
    /// sizes; tap (iy, ix) reads stored pixel (iy &gt;&gt; 1, ix &gt;&gt; 1)); 0 for a plain input.
    /// </summary>
    public int InputShift;
    /// <summary>
    /// Input channels [InChannels − SkipChannels, InChannels) read from a second tensor (the skip of a channel concat,
    /// [Batch, SkipChannels, ...]); x holds the first InChannels − SkipChannels. 0: x holds them all.
    /// </summary>
    public int SkipChannels;
    public int HasBias, HasResidual;
    /// <summary>1 when a per-sample channel bias is added (sampleBias[n·SampleBiasStride + c], the view starting at its column slice).</summary>
    public int HasSampleBias, SampleBiasStride;
    public float Scale;
    /// <summary>Set by the launcher: 64-pixel tiles of the flattened N·Ho·Wo axis (the tiled kernel's 1-D grid holds pixel tiles × channel tiles).</summary>
    public int PixelTiles;
    /// <summary>Set by the launcher with <see cref="PixelTiles"/>: the divisors of the tiled kernels' index decoding, as multiply-shifts.</summary>
    public FastDivisor PixelTilesDivisor, OutPixelsDivisor, OutWidthDivisor, TapsDivisor, KernelWidthDivisor;

    /// <summary>Sets the fields a tiled launch reads: <paramref name="pixelTiles"/> and the divisors (all sizes ≥ 1).</summary>
    public void SetTiles(int pixelTiles)
    {
        PixelTiles = pixelTiles;
        PixelTilesDivisor = FastDivisor.Of(pixelTiles);
        OutPixelsDivisor = FastDivisor.Of(OutHeight * OutWidth);
        OutWidthDivisor = FastDivisor.Of(OutWidth);
        TapsDivisor = FastDivisor.Of(KernelHeight * KernelWidth);
        KernelWidthDivisor = FastDivisor.Of(KernelWidth);
    }
}

/// <summary>
/// y = (conv2d(x, w) + bias + sampleBias + residual) · scale on the GPU (PyTorch cross-correlation, NCHW), sampleBias
/// a per-(sample, channel) bias (a resnet's time embedding). The tiled kernel is
/// an implicit GEMM: C[Cout, N·Ho·Wo] = W[Cout, Cin·kh·kw] · col, where the im2col matrix is never stored: each
/// group gathers its K-slice of it straight from x into shared memory, reading zero for padding taps.
/// </summary>
internal sealed class Conv2dKernels
{
    // Each group computes a 64 (output channels) × 64 (output pixels) tile with 256 threads, 4×4 outputs per
    // thread, stepping through K in slices of 16. Rows of the weight tile are padded by 4 to spread its
    // transposed stores over the shared-memory banks.
    private const int TileM = 64, TileN = 64, TileK = 16, GroupSize = 256, Lanes = 16;
    private const int WeightRow = TileM + 4;

    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, Conv2dGeometry>? _tiled;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, Conv2dGeometry>? _tiledDividing;
    private readonly Accelerator _accelerator;
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, Conv2dGeometry> _direct;

    /// <summary>Compiles the kernels for <paramref name="accelerator"/>.</summary>
    public Conv2dKernels(Accelerator accelerator)
    {
        _accelerator = accelerator;
        _direct = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, Conv2dGeometry>(Direct);
        int sharedBytes = (TileK * WeightRow + TileK * TileN) * sizeof(float);
        // The tile shape is built for 256-thread groups; devices that cannot run them fall back to the direct kernel.
        if (accelerator.MaxNumThreadsPerGroup >= GroupSize && accelerator.MaxSharedMemoryPerGroup >= sharedBytes)
            _tiled = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, Conv2dGeometry>(Tiled);
    }

    /// <summary>True when the tiled kernel is available on this device.</summary>
    public bool HasTiled => _tiled is not null;

    /// <summary>
    /// Queues y = (conv2d(x, w) + bias + residual) · geometry.Scale. <paramref name="bias"/> and
    /// <paramref name="residual"/> are read only when <see cref="Conv2dGeometry.HasBias"/> /
    /// <see cref="Conv2dGeometry.HasResidual"/> are set (pass any view otherwise); residual may be y itself.
    /// </summary>
    public void Run(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> w, ArrayView<float> bias,
        ArrayView<float> residual, ArrayView<float> y, Conv2dGeometry geometry, Conv2dAlgorithm algorithm = Conv2dAlgorithm.Tiled)
    {
        geometry.HasSampleBias = 0;
        Run(stream, x, w, bias, y, residual, y, geometry, algorithm);
    }

    /// <summary>
    /// <see cref="Run(AcceleratorStream, ArrayView{float}, ArrayView{float}, ArrayView{float}, ArrayView{float}, ArrayView{float}, Conv2dGeometry, Conv2dAlgorithm)"/>
    /// with <paramref name="sampleBias"/> read when <see cref="Conv2dGeometry.HasSampleBias"/> is set: element
    /// [n·SampleBiasStride + c] is added to output channel c of sample n, after the bias and before the residual.
    /// </summary>
    public void Run(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> sampleBias,
        ArrayView<float> residual, ArrayView<float> y, Conv2dGeometry geometry, Conv2dAlgorithm algorithm = Conv2dAlgorithm.Tiled)
    {
        if (geometry.SkipChannels != 0) throw new ArgumentException("conv2d: a concatenated input needs its skip tensor", nameof(geometry));
        Run(stream, x, x, w, bias, sampleBias, residual, y, geometry, algorithm);
    }

    /// <summary>
    /// The overload above reading input channels [InChannels − SkipChannels, InChannels) from <paramref name="skip"/>
    /// (<see cref="Conv2dGeometry.SkipChannels"/>): the conv of the channel concat cat(x, skip), never materialised.
    /// </summary>
    public void Run(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> skip, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> sampleBias,
        ArrayView<float> residual, ArrayView<float> y, Conv2dGeometry geometry, Conv2dAlgorithm algorithm = Conv2dAlgorithm.Tiled)
    {
        if (geometry.SkipChannels < 0 || geometry.SkipChannels > geometry.InChannels)
            throw new ArgumentOutOfRangeException(nameof(geometry), $"conv2d: {geometry.SkipChannels} skip channels of {geometry.InChannels}");
        long pixels = (long)geometry.Batch * geometry.OutHeight * geometry.OutWidth;
        long outputs = pixels * geometry.OutChannels;
        if (outputs == 0) return;
        if (outputs > int.MaxValue || x.Length > int.MaxValue || w.Length > int.MaxValue)
            throw new ArgumentException("conv2d: tensors over 2^31 elements are not supported by the GPU kernels");
        if (algorithm == Conv2dAlgorithm.Direct || _tiled is null)
        {
            _direct(LaunchCounter.Count(stream), (int)outputs, x, skip, w, bias, sampleBias, residual, y, geometry);
            return;
        }
        // One grid dimension: CUDA caps y at 65,535 groups.
        geometry.SetTiles((int)((pixels + TileN - 1) / TileN));
        long groups = (long)geometry.PixelTiles * ((geometry.OutChannels + TileM - 1) / TileM);
        if (groups > int.MaxValue) throw new ArgumentException($"conv2d: {groups} output tiles are more than one launch holds");
        var tiled = algorithm == Conv2dAlgorithm.TiledDividing
            ? _tiledDividing ??= _accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, Conv2dGeometry>(TiledDividing)
            : _tiled;
        tiled(LaunchCounter.Count(stream), new KernelConfig(new Index1D((int)groups), new Index1D(GroupSize)), x, skip, w, bias, sampleBias, residual, y, geometry);
    }

    /// <summary>One thread per output element; the correctness baseline.</summary>
    private static void Direct(Index1D index, ArrayView<float> x, ArrayView<float> skip, ArrayView<float> w, ArrayView<float> bias,
        ArrayView<float> sampleBias, ArrayView<float> residual, ArrayView<float> y, Conv2dGeometry g)
    {
        int i = index;
        int ox = i % g.OutWidth;
        int rest = i / g.OutWidth;
        int oy = rest % g.OutHeight;
        rest /= g.OutHeight;
        int co = rest % g.OutChannels;
        int image = rest / g.OutChannels;
        float acc = 0f;
        for (int ci = 0; ci < g.InChannels; ci++)
            for (int ky = 0; ky < g.KernelHeight; ky++)
            {
                int iy = oy * g.Stride - g.Padding + ky;
                if (iy < 0 || iy >= g.Height) continue;
                int wRow = ((co * g.InChannels + ci) * g.KernelHeight + ky) * g.KernelWidth;
                for (int kx = 0; kx < g.KernelWidth; kx++)
                {
                    int ix = ox * g.Stride - g.Padding + kx;
                    if (ix >= 0 && ix < g.Width) acc += w[wRow + kx] * ConvGather.Load(x, skip, g, image, ci, iy, ix);
                }
            }
        y[i] = ConvEpilogue.Apply(bias, sampleBias, residual, g, co, image * g.SampleBiasStride, i, acc);
    }

    /// <summary>The tiled kernel, its gather walking the taps incrementally (<see cref="TapCursor"/>).</summary>
    private static void Tiled(ArrayView<float> x, ArrayView<float> skip, ArrayView<float> w, ArrayView<float> bias,
        ArrayView<float> sampleBias, ArrayView<float> residual, ArrayView<float> y, Conv2dGeometry g) => TiledGemm<TapCursor>(x, skip, w, bias, sampleBias, residual, y, g);

    /// <summary>The tiled kernel's first version, decoding each gathered tap by division (<see cref="TapDivider"/>).</summary>
    private static void TiledDividing(ArrayView<float> x, ArrayView<float> skip, ArrayView<float> w, ArrayView<float> bias,
        ArrayView<float> sampleBias, ArrayView<float> residual, ArrayView<float> y, Conv2dGeometry g) => TiledGemm<TapDivider>(x, skip, w, bias, sampleBias, residual, y, g);

    /// <summary>
    /// Implicit-GEMM tile: group Y·PixelTiles + X owns output pixels [64·X, 64·X + 64) of the flattened N·Ho·Wo
    /// axis and output channels [64·Y, 64·Y + 64). Thread (tx, ty) = (t % 16, t / 16) accumulates channels
    /// ty + 16i and pixels tx + 16j (i, j &lt; 4), so neighbouring threads read neighbouring shared words and
    /// write neighbouring outputs.
    /// </summary>
    private static void TiledGemm<TTaps>(ArrayView<float> x, ArrayView<float> skip, ArrayView<float> w, ArrayView<float> bias,
        ArrayView<float> sampleBias, ArrayView<float> residual, ArrayView<float> y, Conv2dGeometry g)
        where TTaps : struct, IConvTaps
    {
        var weightTile = SharedMemory.Allocate<float>(TileK * WeightRow); // [k][channel]
        var inputTile = SharedMemory.Allocate<float>(TileK * TileN);      // [k][pixel]
        var walk = default(TTaps);
        int t = Group.IdxX;
        int channelTile = walk.DivideIndex(Grid.IdxX, g.PixelTilesDivisor);
        int m0 = channelTile * TileM, p0 = (Grid.IdxX - channelTile * g.PixelTiles) * TileN;
        int k = g.InChannels * g.KernelHeight * g.KernelWidth;
        int hw = g.OutHeight * g.OutWidth;
        int pixels = g.Batch * hw;

        // This thread's im2col column (one output pixel) for every K-slice: decode it once.
        int loadPixel = t % TileN, loadRow = t / TileN;
        int pixel = p0 + loadPixel;
        bool pixelValid = pixel < pixels;
        int image = walk.DivideIndex(pixel, g.OutPixelsDivisor), inImage = pixel - image * hw;
        int oy = walk.DivideIndex(inImage, g.OutWidthDivisor), ox = inImage - oy * g.OutWidth;
        int iyBase = oy * g.Stride - g.Padding, ixBase = ox * g.Stride - g.Padding;
        // Its rows loadRow + 4j of every K-slice are one progression: loadRow, loadRow + 4, …
        walk.Start(g, loadRow, GroupSize / TileN);
        // This thread's weight loads: channel rows t/16 + 16j, K column t % 16 (16 threads read 16 consecutive floats).
        int weightK = t % TileK, weightRowBase = t / TileK;

        int tx = t % Lanes, ty = t / Lanes;
        float c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
        float c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;

        for (int k0 = 0; k0 < k; k0 += TileK)
        {
            int kw = k0 + weightK;
            for (int j = 0; j < TileM / Lanes; j++)
            {
                int m = weightRowBase + Lanes * j;
                int channel = m0 + m;
                weightTile[weightK * WeightRow + m] = channel < g.OutChannels && kw < k ? w[channel * k + kw] : 0f;
            }
            for (int j = 0; j < TileK * TileN / GroupSize; j++)
            {
                int row = loadRow + GroupSize / TileN * j;
                inputTile[row * TileN + loadPixel] = pixelValid && k0 + row < k ? ConvGather.LoadTap(x, skip, g, image, iyBase, ixBase, walk) : 0f;
                walk.Advance(g);
            }
            Group.Barrier();

            for (int kk = 0; kk < TileK; kk++)
            {
                int wo = kk * WeightRow + ty, io = kk * TileN + tx;
                float a0 = weightTile[wo], a1 = weightTile[wo + 16], a2 = weightTile[wo + 32], a3 = weightTile[wo + 48];
                float b0 = inputTile[io], b1 = inputTile[io + 16], b2 = inputTile[io + 32], b3 = inputTile[io + 48];
                c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
                c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
                c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
                c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
            }
            Group.Barrier();
        }

        int out0 = ConvEpilogue.OutputBase(p0 + tx, hw, pixels, g.OutChannels);
        int out1 = ConvEpilogue.OutputBase(p0 + tx + 16, hw, pixels, g.OutChannels);
        int out2 = ConvEpilogue.OutputBase(p0 + tx + 32, hw, pixels, g.OutChannels);
        int out3 = ConvEpilogue.OutputBase(p0 + tx + 48, hw, pixels, g.OutChannels);
        // The four pixels may lie in different images: each reads its own sample's bias row.
        int bias0 = ConvEpilogue.SampleBiasRow(p0 + tx, hw, g), bias1 = ConvEpilogue.SampleBiasRow(p0 + tx + 16, hw, g);
        int bias2 = ConvEpilogue.SampleBiasRow(p0 + tx + 32, hw, g), bias3 = ConvEpilogue.SampleBiasRow(p0 + tx + 48, hw, g);
        StoreRow(y, bias, sampleBias, residual, g, m0 + ty, hw, out0, out1, out2, out3, bias0, bias1, bias2, bias3, c00, c01, c02, c03);
        StoreRow(y, bias, sampleBias, residual, g, m0 + ty + 16, hw, out0, out1, out2, out3, bias0, bias1, bias2, bias3, c10, c11, c12, c13);
        StoreRow(y, bias, sampleBias, residual, g, m0 + ty + 32, hw, out0, out1, out2, out3, bias0, bias1, bias2, bias3, c20, c21, c22, c23);
        StoreRow(y, bias, sampleBias, residual, g, m0 + ty + 48, hw, out0, out1, out2, out3, bias0, bias1, bias2, bias3, c30, c31, c32, c33);
    }

    /// <summary>One output channel's four pixels through <see cref="ConvEpilogue"/>.</summary>
    private static void StoreRow(ArrayView<float> y, ArrayView<float> bias, ArrayView<float> sampleBias, ArrayView<float> residual, Conv2dGeometry g,
        int channel, int hw, int out0, int out1, int out2, int out3, int bias0, int bias1, int bias2, int bias3,
        float v0, float v1, float v2, float v3)
    {
        ConvEpilogue.Store(y, bias, sampleBias, residual, g, channel, hw, out0, bias0, v0);
        ConvEpilogue.Store(y, bias, sampleBias, residual, g, channel, hw, out1, bias1, v1);
        ConvEpilogue.Store(y, bias, sampleBias, residual, g, channel, hw, out2, bias2, v2);
        ConvEpilogue.Store(y, bias, sampleBias, residual, g, channel, hw, out3, bias3, v3);
    }
}
