using ILGPU;
using ILGPU.Runtime;
using static DiffusionKernels.Kernels.Gpu.TensorCoreTile;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// y = (conv2d(x, w) + bias + residual) · scale on TF32 tensor cores: the implicit GEMM of
/// <see cref="Conv2dKernels"/> (C[Cout, N·Ho·Wo] = W[Cout, Cin·kh·kw] · im2col, the im2col matrix gathered straight
/// from x with zeros for padding taps) on <see cref="TensorCoreTile"/>'s 64×64×32 tiles and <see cref="MmaTf32"/>.
/// Inputs are rounded to TF32 as they are staged; accumulation is fp32. Same geometry and epilogue as the fp32
/// kernels, which stay the default.
/// </summary>
internal sealed class TensorCoreConv2dKernels
{
    private readonly Accelerator _accelerator;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, Conv2dGeometry, ArrayView<float>, SplitKSlices>? _kernel;
    private Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, Conv2dGeometry, SplitKSlices>? _reduce;

    /// <summary>Loads the kernel when <paramref name="accelerator"/> fits the tiles (<see cref="TensorCoreTile.Fits"/>).</summary>
    public TensorCoreConv2dKernels(Accelerator accelerator)
    {
        _accelerator = accelerator;
        if (TensorCoreTile.Fits(accelerator))
            _kernel = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, Conv2dGeometry, ArrayView<float>, SplitKSlices>(Tf32ImplicitGemm);
    }

    /// <summary>True when the kernel could be loaded on this accelerator.</summary>
    public bool IsAvailable => _kernel is not null;

    /// <summary>
    /// Queues y = (conv2d(x, w) + bias + sampleBias + residual) · geometry.Scale, as the fp32 <see cref="Conv2dKernels"/>
    /// do, with their input upsampling (<see cref="Conv2dGeometry.InputShift"/>) and per-sample bias (bias, sampleBias and
    /// residual are read only when flagged; residual may be y itself).
    /// </summary>
    public void Run(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> sampleBias,
        ArrayView<float> residual, ArrayView<float> y, Conv2dGeometry geometry)
    {
        if (geometry.SkipChannels != 0) throw new ArgumentException("conv2d: a concatenated input needs its skip tensor", nameof(geometry));
        Run(stream, x, x, w, bias, sampleBias, residual, y, geometry, TensorCoreLaunch.Fixed64, y);
    }

    /// <summary>
    /// As above, reading input channels past InChannels − SkipChannels from <paramref name="skip"/> (cat(x, skip)), with
    /// <paramref name="launch"/>'s K split (64×64 tiles only): S slices of Cin·kh·kw write their partial products
    /// [Cout, N·Ho·Wo] to <paramref name="workspace"/> (at least <see cref="WorkspaceFloats"/> floats; any view when K is
    /// not split), and a second kernel sums them in slice order and applies the epilogue (no atomics: the same bits on
    /// every run).
    /// </summary>
    public void Run(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> skip, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> sampleBias,
        ArrayView<float> residual, ArrayView<float> y, Conv2dGeometry geometry, TensorCoreLaunch launch, ArrayView<float> workspace)
    {
        if (geometry.SkipChannels < 0 || geometry.SkipChannels > geometry.InChannels)
            throw new ArgumentOutOfRangeException(nameof(geometry), $"conv2d: {geometry.SkipChannels} skip channels of {geometry.InChannels}");
        if (_kernel is null) throw new NotSupportedException("the TF32 tensor-core convolution needs 32-lane warps, 128-thread groups and 18 KB of shared memory per group");
        long pixels = (long)geometry.Batch * geometry.OutHeight * geometry.OutWidth;
        long outputs = pixels * geometry.OutChannels;
        if (outputs == 0) return;
        if (outputs > int.MaxValue || x.Length > int.MaxValue || w.Length > int.MaxValue)
            throw new ArgumentException("conv2d: tensors over 2^31 elements are not supported by the GPU kernels");
        geometry.PixelTiles = (int)((pixels + TileN - 1) / TileN);
        long groups = (long)geometry.PixelTiles * ((geometry.OutChannels + TileM - 1) / TileM);
        if (launch.Tile != TensorCoreTileShape.Tile64) throw new NotSupportedException("the TF32 tensor-core convolution has 64×64 tiles only");
        int k = geometry.InChannels * geometry.KernelHeight * geometry.KernelWidth;
        int sliceK = launch.IsSplit ? TensorCoreTilePolicy.SliceLength(k, launch.Slices) : Math.Max(k, 1);
        var split = new SplitKSlices { Slices = TensorCoreTilePolicy.SlicesOf(k, sliceK), SliceK = sliceK, GroupsPerSlice = (int)Math.Min(groups, int.MaxValue), SliceStride = outputs };
        if (split.Slices > 1 && workspace.Length < outputs * split.Slices)
            throw new ArgumentException($"conv2d: split-K over {split.Slices} slices needs a workspace of {outputs * split.Slices} floats, got {workspace.Length}");
        groups *= split.Slices;
        if (groups > int.MaxValue) throw new ArgumentException($"conv2d: {groups} output tiles are more than one launch holds");
        _kernel(LaunchCounter.Count(stream), new KernelConfig(new Index1D((int)groups), new Index1D(Threads)), x, skip, w, bias, sampleBias, residual, y, geometry, workspace, split);
        if (split.Slices == 1) return;
        _reduce ??= _accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, Conv2dGeometry, SplitKSlices>(ReduceSlices);
        _reduce(LaunchCounter.Count(stream), new Index1D((int)outputs), workspace, bias, sampleBias, residual, y, geometry, split);
    }

    /// <summary>Floats of workspace a split launch needs: S slices of Cout × N·Ho·Wo (0 when K is not split).</summary>
    public static long WorkspaceFloats(Conv2dGeometry g, TensorCoreLaunch launch)
    {
        int k = g.InChannels * g.KernelHeight * g.KernelWidth;
        int slices = TensorCoreTilePolicy.SlicesOf(k, TensorCoreTilePolicy.SliceLength(k, launch.Slices));
        return launch.IsSplit && slices > 1 ? (long)slices * g.OutChannels * g.Batch * g.OutHeight * g.OutWidth : 0;
    }

    /// <summary>
    /// The split-K reduction, one thread per (channel, pixel) of the flattened N·Ho·Wo axis (consecutive threads,
    /// consecutive pixels): the slices summed in order 0, 1, …, then <see cref="ConvEpilogue"/>.
    /// </summary>
    private static void ReduceSlices(Index1D i, ArrayView<float> workspace, ArrayView<float> bias, ArrayView<float> sampleBias,
        ArrayView<float> residual, ArrayView<float> y, Conv2dGeometry g, SplitKSlices split)
    {
        float sum = 0f;
        for (int s = 0; s < split.Slices; s++) sum += workspace[s * split.SliceStride + i];
        int hw = g.OutHeight * g.OutWidth, pixels = g.Batch * hw;
        int channel = i / pixels, pixel = i - channel * pixels;
        ConvEpilogue.Store(y, bias, sampleBias, residual, g, channel, hw, ConvEpilogue.OutputBase(pixel, hw, pixels, g.OutChannels), ConvEpilogue.SampleBiasRow(pixel, hw, g), sum);
    }

    /// <summary>
    /// Tile t = Y·PixelTiles + X owns output channels [64·Y, 64·Y + 64) (the M side) and output pixels
    /// [64·X, 64·X + 64) of the flattened N·Ho·Wo axis (the N side); group x works on tile x mod GroupsPerSlice over
    /// K slice x / GroupsPerSlice (the whole K when unsplit, then the epilogue; else a raw partial to the workspace).
    /// </summary>
    private static void Tf32ImplicitGemm(ArrayView<float> x, ArrayView<float> skip, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> sampleBias,
        ArrayView<float> residual, ArrayView<float> y, Conv2dGeometry g, ArrayView<float> workspace, SplitKSlices split)
    {
        var shared = SharedMemory.Allocate<float>(SharedFloats);
        int tid = Group.IdxX, lane = tid & (WarpSize - 1), warp = tid / WarpSize;
        int slice = Grid.IdxX / split.GroupsPerSlice, tile = Grid.IdxX - slice * split.GroupsPerSlice;
        int channelTile = tile / g.PixelTiles;
        int m0 = channelTile * TileM, p0 = (tile - channelTile * g.PixelTiles) * TileN;
        int taps = g.KernelHeight * g.KernelWidth;
        int k = g.InChannels * taps;
        int hw = g.OutHeight * g.OutWidth;
        int pixels = g.Batch * hw;

        // The im2col column this thread gathers (one output pixel), decoded once.
        int gatherPixel = tid & (TileN - 1), gatherK = tid / TileN; // 2 k rows of 64 pixels per pass
        int pixel = p0 + gatherPixel;
        bool pixelValid = pixel < pixels;
        int image = pixel / hw, inImage = pixel - image * hw;
        int oy = inImage / g.OutWidth, ox = inImage - oy * g.OutWidth;
        int iyBase = oy * g.Stride - g.Padding, ixBase = ox * g.Stride - g.Padding;
        // The weight rows this thread loads: k column tid % 32, rows tid / 32 + 4·pass.
        int weightK = tid & (TileK - 1), weightRow = tid / TileK;

        int warpRow = (warp >> 1) * 32, warpCol = (warp & 1) * 32;
        var acc = default(WarpTile);
        int kBegin = slice * split.SliceK, kEnd = Math.Min(k, kBegin + split.SliceK);
        for (int k0 = kBegin; k0 < kEnd; k0 += TileK)
        {
            bool kValid = k0 + weightK < kEnd;
            for (int pass = 0; pass < TileM / (Threads / TileK); pass++)
            {
                int r = weightRow + pass * (Threads / TileK), channel = m0 + r;
                shared[r * Pitch + weightK] = kValid && channel < g.OutChannels ? Tf32.Round(w[channel * k + k0 + weightK]) : 0f;
            }
            for (int pass = 0; pass < TileK / (Threads / TileN); pass++)
            {
                int kk = gatherK + pass * (Threads / TileN), kIndex = k0 + kk;
                float v = 0f;
                if (pixelValid && kIndex < kEnd)
                {
                    int ci = kIndex / taps;
                    int tap = kIndex - ci * taps;
                    int ky = tap / g.KernelWidth;
                    int iy = iyBase + ky, ix = ixBase + tap - ky * g.KernelWidth;
                    if (iy >= 0 && iy < g.Height && ix >= 0 && ix < g.Width)
                        v = Tf32.Round(ConvGather.Load(x, skip, g, image, ci, iy, ix)); // Height/Width: the sizes the taps see
                }
                shared[BOffset + gatherPixel * Pitch + kk] = v;
            }
            Group.Barrier();
            MultiplyStage(shared, warpRow, warpCol, lane, ref acc);
            Group.Barrier(); // the next slice overwrites the tile
        }

        // Lane (g, t) holds channels c, c + 8 and pixels q, q + 1 of each accumulator.
        int c = m0 + warpRow + (lane >> 2), q = p0 + warpCol + 2 * (lane & 3);
        if (split.Slices > 1)
        {
            acc.StorePartial(workspace, slice * split.SliceStride, pixels, g.OutChannels, c, q);
            return;
        }
        ConvEpilogue.StoreWarpTile(y, bias, sampleBias, residual, g, c, q, hw, pixels, acc);
    }
}
