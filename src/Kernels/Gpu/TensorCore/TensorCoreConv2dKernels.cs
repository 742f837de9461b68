using System.Runtime.CompilerServices;
using ILGPU;
using ILGPU.Runtime;
using static DiffusionKernels.Kernels.Gpu.TensorCoreTile;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// y = (conv2d(x, w) + bias + residual) · scale on TF32 tensor cores: the implicit GEMM of
/// <see cref="Conv2dKernels"/> (C[Cout, N·Ho·Wo] = W[Cout, Cin·kh·kw] · im2col, the im2col matrix gathered straight
/// from x with zeros for padding taps, <see cref="ImplicitGemmStage"/>) and <see cref="MmaTf32"/>. Inputs are rounded to
/// TF32 as they are staged; accumulation is fp32. Same geometry and epilogue (<see cref="ConvEpilogue"/>) as the fp32
/// kernels, which stay the default. Kept versions (<see cref="TensorCoreLaunch"/>): <see cref="TensorCoreTile"/>'s
/// 64×64×32 tiles over the whole K (the first), the same tiles with split-K and a deterministic reduction,
/// <see cref="TensorCoreTile128"/>'s 128×128×32 tiles (256 threads); and the fp32-accurate 3xTF32 product
/// (<see cref="ThreeTf32"/>, 64×64 tiles, split-K too).
/// </summary>
internal sealed class TensorCoreConv2dKernels
{
    private readonly Accelerator _accelerator;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, Conv2dGeometry, ArrayView<float>, SplitKSlices>? _kernel;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, Conv2dGeometry, ArrayView<float>, SplitKSlices>? _threeTf32;
    private Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, Conv2dGeometry>? _tile128;
    private Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, Conv2dGeometry, SplitKSlices>? _reduce;

    /// <summary>Loads the kernel when <paramref name="accelerator"/> fits the tiles (<see cref="TensorCoreTile.Fits"/>); the other versions load on first use.</summary>
    public TensorCoreConv2dKernels(Accelerator accelerator)
    {
        _accelerator = accelerator;
        if (TensorCoreTile.Fits(accelerator))
            _kernel = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, Conv2dGeometry, ArrayView<float>, SplitKSlices>(Tf32ImplicitGemm);
    }

    /// <summary>True when the kernel could be loaded on this accelerator.</summary>
    public bool IsAvailable => _kernel is not null;

    /// <summary>True when the 128×128 tiles fit this accelerator (256-thread groups, 36 KB of shared memory).</summary>
    public bool Has128 => _kernel is not null && TensorCoreTile128.Fits(_accelerator);

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
    /// <paramref name="launch"/>'s tile shape and K split (64×64 tiles only): S slices of Cin·kh·kw write their partial
    /// products [Cout, N·Ho·Wo] to <paramref name="workspace"/> (at least <see cref="WorkspaceFloats"/> floats; any view
    /// when K is not split), and a second kernel sums them in slice order and applies the epilogue (no atomics: the same
    /// bits on every run).
    /// </summary>
    public void Run(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> skip, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> sampleBias,
        ArrayView<float> residual, ArrayView<float> y, Conv2dGeometry geometry, TensorCoreLaunch launch, ArrayView<float> workspace) =>
        Launch(stream, x, skip, w, bias, sampleBias, residual, y, geometry, launch, workspace, threeTf32: false);

    /// <summary>
    /// Queues the fp32-accurate 3xTF32 version (<see cref="ThreeTf32"/>) of the same convolution and epilogue: three
    /// <c>mma</c> per product, error at fp32's level rather than TF32's. 64×64 tiles, with <paramref name="launch"/>'s
    /// K split as in <see cref="Run(AcceleratorStream, ArrayView{float}, ArrayView{float}, ArrayView{float}, ArrayView{float}, ArrayView{float}, ArrayView{float}, ArrayView{float}, Conv2dGeometry, TensorCoreLaunch, ArrayView{float})"/>.
    /// </summary>
    public void RunThreeTf32(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> skip, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> sampleBias,
        ArrayView<float> residual, ArrayView<float> y, Conv2dGeometry geometry, TensorCoreLaunch launch, ArrayView<float> workspace) =>
        Launch(stream, x, skip, w, bias, sampleBias, residual, y, geometry, launch, workspace, threeTf32: true);

    private void Launch(AcceleratorStream stream, ArrayView<float> x, ArrayView<float> skip, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> sampleBias,
        ArrayView<float> residual, ArrayView<float> y, Conv2dGeometry geometry, TensorCoreLaunch launch, ArrayView<float> workspace, bool threeTf32)
    {
        if (geometry.SkipChannels < 0 || geometry.SkipChannels > geometry.InChannels)
            throw new ArgumentOutOfRangeException(nameof(geometry), $"conv2d: {geometry.SkipChannels} skip channels of {geometry.InChannels}");
        if (_kernel is null) throw new NotSupportedException("the TF32 tensor-core convolution needs 32-lane warps, 128-thread groups and 18 KB of shared memory per group");
        long pixels = (long)geometry.Batch * geometry.OutHeight * geometry.OutWidth;
        long outputs = pixels * geometry.OutChannels;
        if (outputs == 0) return;
        if (outputs > int.MaxValue || x.Length > int.MaxValue || w.Length > int.MaxValue)
            throw new ArgumentException("conv2d: tensors over 2^31 elements are not supported by the GPU kernels");
        if (launch.Tile == TensorCoreTileShape.Tile128)
        {
            if (launch.IsSplit) throw new NotSupportedException("conv2d: split-K runs on the 64×64 tiles");
            if (threeTf32) throw new NotSupportedException("conv2d: the 3xTF32 convolution has 64×64 tiles only");
            if (!Has128) throw new NotSupportedException("the 128×128 TF32 tiles need 256-thread groups and 36 KB of shared memory per group");
            const int tile = TensorCoreTile128.Tile;
            geometry.SetTiles((int)((pixels + tile - 1) / tile));
            long tiles = (long)geometry.PixelTiles * ((geometry.OutChannels + tile - 1) / tile);
            if (tiles > int.MaxValue) throw new ArgumentException($"conv2d: {tiles} output tiles are more than one launch holds");
            _tile128 ??= _accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, Conv2dGeometry>(Tf32ImplicitGemm128);
            _tile128(LaunchCounter.Count(stream), new KernelConfig(new Index1D((int)tiles), new Index1D(TensorCoreTile128.Threads)), x, skip, w, bias, sampleBias, residual, y, geometry);
            return;
        }
        geometry.SetTiles((int)((pixels + TileN - 1) / TileN));
        long groups = (long)geometry.PixelTiles * ((geometry.OutChannels + TileM - 1) / TileM);
        int k = geometry.InChannels * geometry.KernelHeight * geometry.KernelWidth;
        int sliceK = launch.IsSplit ? TensorCoreTilePolicy.SliceLength(k, launch.Slices) : Math.Max(k, 1);
        var split = new SplitKSlices { Slices = TensorCoreTilePolicy.SlicesOf(k, sliceK), SliceK = sliceK, GroupsPerSlice = (int)Math.Min(groups, int.MaxValue), SliceStride = outputs };
        if (split.Slices > 1 && workspace.Length < outputs * split.Slices)
            throw new ArgumentException($"conv2d: split-K over {split.Slices} slices needs a workspace of {outputs * split.Slices} floats, got {workspace.Length}");
        groups *= split.Slices;
        if (groups > int.MaxValue) throw new ArgumentException($"conv2d: {groups} output tiles are more than one launch holds");
        var kernel = threeTf32
            ? _threeTf32 ??= _accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, Conv2dGeometry, ArrayView<float>, SplitKSlices>(ThreeTf32ImplicitGemm)
            : _kernel;
        kernel(LaunchCounter.Count(stream), new KernelConfig(new Index1D((int)groups), new Index1D(Threads)), x, skip, w, bias, sampleBias, residual, y, geometry, workspace, split);
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

    /// <summary>The first version: TF32 inputs on 64×64 tiles (<see cref="ImplicitGemm64"/>).</summary>
    private static void Tf32ImplicitGemm(ArrayView<float> x, ArrayView<float> skip, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> sampleBias,
        ArrayView<float> residual, ArrayView<float> y, Conv2dGeometry g, ArrayView<float> workspace, SplitKSlices split) =>
        ImplicitGemm64(x, skip, w, bias, sampleBias, residual, y, g, workspace, split, false);

    /// <summary>The 3xTF32 version: fp32 values staged unrounded, each fragment split into big and small TF32 parts.</summary>
    private static void ThreeTf32ImplicitGemm(ArrayView<float> x, ArrayView<float> skip, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> sampleBias,
        ArrayView<float> residual, ArrayView<float> y, Conv2dGeometry g, ArrayView<float> workspace, SplitKSlices split) =>
        ImplicitGemm64(x, skip, w, bias, sampleBias, residual, y, g, workspace, split, true);

    /// <summary>
    /// Tile t = Y·PixelTiles + X owns output channels [64·Y, 64·Y + 64) (the M side) and output pixels
    /// [64·X, 64·X + 64) of the flattened N·Ho·Wo axis (the N side); group x works on tile x mod GroupsPerSlice over
    /// K slice x / GroupsPerSlice (the whole K when unsplit, then the epilogue; else a raw partial to the workspace).
    /// <paramref name="threeTf32"/> is a constant at both calls: the inlined body is one product or the other.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ImplicitGemm64(ArrayView<float> x, ArrayView<float> skip, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> sampleBias,
        ArrayView<float> residual, ArrayView<float> y, Conv2dGeometry g, ArrayView<float> workspace, SplitKSlices split, bool threeTf32)
    {
        var shared = SharedMemory.Allocate<float>(SharedFloats);
        int tid = Group.IdxX, lane = tid & (WarpSize - 1), warp = tid / WarpSize;
        int slice = Grid.IdxX / split.GroupsPerSlice, tile = Grid.IdxX - slice * split.GroupsPerSlice;
        int channelTile = g.PixelTilesDivisor.Divide(tile);
        int m0 = channelTile * TileM, p0 = (tile - channelTile * g.PixelTiles) * TileN;
        int k = g.InChannels * g.KernelHeight * g.KernelWidth;
        int hw = g.OutHeight * g.OutWidth;
        int pixels = g.Batch * hw;
        var column = ImplicitGemmStage.Column(g, p0, tid, TileN);

        int warpRow = (warp >> 1) * 32, warpCol = (warp & 1) * 32;
        var acc = default(WarpTile);
        int kBegin = slice * split.SliceK, kEnd = Math.Min(k, kBegin + split.SliceK);
        var taps = ImplicitGemmStage.Taps(g, kBegin, tid, TileN, Threads);
        for (int k0 = kBegin; k0 < kEnd; k0 += TileK)
        {
            ImplicitGemmStage.Load(shared, x, skip, w, g, column, ref taps, m0, k, k0, kEnd, tid, TileM, Threads, BOffset, !threeTf32);
            Group.Barrier();
            if (threeTf32) ThreeTf32.MultiplyStage(shared, warpRow, warpCol, lane, ref acc);
            else MultiplyStage(shared, warpRow, warpCol, lane, ref acc);
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

    /// <summary>
    /// The 128×128 version (<see cref="TensorCoreTile128"/>, whole K): tile t = Y·PixelTiles + X owns output channels
    /// [128·Y, 128·Y + 128) and pixels [128·X, 128·X + 128); warp w owns channels 64·(w / 4), pixels 32·(w mod 4).
    /// </summary>
    private static void Tf32ImplicitGemm128(ArrayView<float> x, ArrayView<float> skip, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> sampleBias,
        ArrayView<float> residual, ArrayView<float> y, Conv2dGeometry g)
    {
        const int tile = TensorCoreTile128.Tile;
        var shared = SharedMemory.Allocate<float>(TensorCoreTile128.SharedFloats);
        int tid = Group.IdxX, lane = tid & (WarpSize - 1), warp = tid / WarpSize;
        int channelTile = g.PixelTilesDivisor.Divide(Grid.IdxX);
        int m0 = channelTile * tile, p0 = (Grid.IdxX - channelTile * g.PixelTiles) * tile;
        int k = g.InChannels * g.KernelHeight * g.KernelWidth;
        int hw = g.OutHeight * g.OutWidth;
        int pixels = g.Batch * hw;
        var column = ImplicitGemmStage.Column(g, p0, tid, tile);

        int warpRow = (warp >> 2) * 64, warpCol = (warp & 3) * 32;
        var top = default(WarpTile);
        var bottom = default(WarpTile);
        var taps = ImplicitGemmStage.Taps(g, 0, tid, tile, TensorCoreTile128.Threads);
        for (int k0 = 0; k0 < k; k0 += TileK)
        {
            ImplicitGemmStage.Load(shared, x, skip, w, g, column, ref taps, m0, k, k0, k, tid, tile, TensorCoreTile128.Threads, TensorCoreTile128.BOffset, true);
            Group.Barrier();
            TensorCoreTile128.MultiplyStage(shared, warpRow, warpCol, lane, ref top, ref bottom);
            Group.Barrier();
        }

        int c = m0 + warpRow + (lane >> 2), q = p0 + warpCol + 2 * (lane & 3);
        ConvEpilogue.StoreWarpTile(y, bias, sampleBias, residual, g, c, q, hw, pixels, top);
        ConvEpilogue.StoreWarpTile(y, bias, sampleBias, residual, g, c + 32, q, hw, pixels, bottom);
    }
}
