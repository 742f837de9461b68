using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>Which attention kernel a launch uses.</summary>
internal enum AttentionAlgorithm
{
    /// <summary><see cref="Tiled"/> when its tiles fit the device (head dim ≤ 8 × threads per group and at least 4 keys per tile in shared memory), else <see cref="Rowwise"/>.</summary>
    Auto,
    /// <summary>FlashAttention-style: a block of queries per group, key/value tiles in shared memory, online softmax, 8 output columns per thread.</summary>
    Tiled,
    /// <summary>One query per group, scores of a key chunk in shared memory, output accumulated in place; any head dim.</summary>
    Rowwise,
}

/// <summary>
/// Multi-head scaled dot-product attention on the GPU, q [B, T, C], k and v [B, S, C], o [B, T, C], head h on
/// channels [h·d, (h+1)·d). Two kernels, both with an online (running max and sum) stable softmax and no T×S
/// matrix in global memory:
/// <list type="bullet">
/// <item><b>Tiled</b>: a group owns Br queries of one (batch, head); it loops over tiles of Bc keys, with the
/// query block, one K-then-V tile and the Br×Bc probabilities in shared memory. Each thread owns one query row
/// and 8 of its output columns (lane + k·⌈d/8⌉) in registers, so Br = threads / ⌈d/8⌉.</item>
/// <item><b>Rowwise</b>: a group owns one query; warps compute the dots of a chunk of keys (lanes over d), the
/// group reduces max and sum through shared memory, and each thread accumulates its columns of o in global
/// memory. It works for any d and any S; K and V are re-read per query, so it is the fallback.</item>
/// </list>
/// <see cref="AttentionAlgorithm.Auto"/> picks Tiled when d ≤ 8 × group size and a Bc ≥ 4 tile fits 48 KB of
/// shared memory, else Rowwise. o must not overlap q, k or v.
/// </summary>
internal sealed class AttentionKernels
{
    private const int ColumnsPerThread = 8;
    private const int MaxRows = 64, MaxTileKeys = 64, MinTileKeys = 4;

    private readonly Accelerator _accelerator;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionShape> _tiled;
    private readonly Action<AcceleratorStream, KernelConfig, ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionShape> _rowwise;
    private readonly int _groupSize, _sharedFloats, _rowChunk;

    /// <summary>Loads both kernels on <paramref name="accelerator"/>; <paramref name="rowChunk"/> is the row kernel's keys per chunk.</summary>
    public AttentionKernels(Accelerator accelerator, int rowChunk = 1024)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rowChunk, 1);
        _accelerator = accelerator;
        _rowChunk = rowChunk;
        _tiled = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionShape>(Tiled);
        _rowwise = accelerator.LoadKernel<ArrayView<float>, ArrayView<float>, ArrayView<float>, ArrayView<float>, AttentionShape>(Rowwise);
        // A power of two (the row kernel's tree reductions), whole warps, at most 256 threads.
        int g = 1;
        while (g * 2 <= Math.Min(256, accelerator.MaxNumThreadsPerGroup)) g *= 2;
        _groupSize = Math.Max(g, accelerator.WarpSize);
        _sharedFloats = (int)(Math.Min(accelerator.MaxSharedMemoryPerGroup, 48 * 1024) / sizeof(float));
    }

    /// <summary>The kernel <see cref="AttentionAlgorithm.Auto"/> chooses for head dim <paramref name="d"/> (and the keys per tile it would use).</summary>
    public AttentionAlgorithm Choose(int d, int keys) => TiledPlan(d, keys, int.MaxValue).TileKeys >= Math.Min(MinTileKeys, keys) && d <= ColumnsPerThread * _groupSize
        ? AttentionAlgorithm.Tiled : AttentionAlgorithm.Rowwise;

    /// <summary>Queues o = softmax(q·kᵀ·scale)·v.</summary>
    public void Run(AcceleratorStream stream, ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> o,
        int batch, int queries, int keys, int channels, int heads, float scale, AttentionAlgorithm algorithm = AttentionAlgorithm.Auto)
    {
        int d = channels / heads;
        if (algorithm == AttentionAlgorithm.Auto) algorithm = Choose(d, keys);
        var shape = new AttentionShape { T = queries, S = keys, C = channels, Heads = heads, D = d, Scale = scale };
        if (algorithm == AttentionAlgorithm.Tiled)
        {
            if (d > ColumnsPerThread * _groupSize) throw new ArgumentException($"attention: the tiled kernel needs d ≤ {ColumnsPerThread * _groupSize}, got {d}");
            var plan = TiledPlan(d, keys, queries);
            if (plan.TileKeys < 1) throw new ArgumentException($"attention: the tiled kernel has no room for d = {d} in {_sharedFloats * 4} bytes of shared memory");
            shape.Rows = plan.Rows;
            shape.TileKeys = plan.TileKeys;
            shape.ThreadsPerRow = plan.ThreadsPerRow;
            shape.Ld = plan.Ld;
            shape.QueryBlocks = (queries + plan.Rows - 1) / plan.Rows;
            int threads = RoundUp(plan.Rows * plan.ThreadsPerRow, _accelerator.WarpSize);
            int groups = checked(batch * heads * shape.QueryBlocks);
            _tiled(LaunchCounter.Count(stream), new KernelConfig(groups, threads, SharedMemoryConfig.RequestDynamic<float>(plan.SharedFloats)), q, k, v, o, shape);
        }
        else
        {
            shape.TileKeys = Math.Min(_rowChunk, keys);
            int groups = checked(batch * heads * queries);
            _rowwise(LaunchCounter.Count(stream), new KernelConfig(groups, _groupSize, SharedMemoryConfig.RequestDynamic<float>(shape.TileKeys + _groupSize)), q, k, v, o, shape);
        }
    }

    private readonly record struct Plan(int Rows, int TileKeys, int ThreadsPerRow, int Ld, int SharedFloats);

    /// <summary>Tile sizes of the tiled kernel: rows from the columns each thread owns, keys from what shared memory has left.</summary>
    private Plan TiledPlan(int d, int keys, int queries)
    {
        int threadsPerRow = (d + ColumnsPerThread - 1) / ColumnsPerThread;
        int rows = Math.Max(1, Math.Min(Math.Min(_groupSize / threadsPerRow, MaxRows), queries));
        int ld = ColumnsPerThread * threadsPerRow + 1; // every owned column exists; odd stride avoids bank conflicts
        int free = _sharedFloats - rows * ld - 3 * rows;
        int tile = Math.Min(Math.Min(free / (ld + rows), MaxTileKeys), keys);
        if (tile > 8) tile &= ~7;
        return new Plan(rows, tile, threadsPerRow, ld, rows * ld + tile * ld + rows * tile + 3 * rows);
    }

    private static int RoundUp(int x, int m) => (x + m - 1) / m * m;

    /// <summary>Shapes and tiling of one launch.</summary>
    public struct AttentionShape
    {
        /// <summary>Queries, keys, channels, heads, head dim.</summary>
        public int T, S, C, Heads, D;
        /// <summary>Score scale.</summary>
        public float Scale;
        /// <summary>Tiled: queries per group, keys per tile (Rowwise: keys per chunk), threads per query row, shared row stride, query blocks per head.</summary>
        public int Rows, TileKeys, ThreadsPerRow, Ld, QueryBlocks;
    }

    // ---------------------------------------------------------------- tiled (FlashAttention-style) kernel

    private static void Tiled(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> o, AttentionShape s)
    {
        var shared = SharedMemory.GetDynamic<float>();
        int tid = Group.IdxX, threads = Group.DimX;
        int bh = Grid.IdxX / s.QueryBlocks;
        int t0 = (Grid.IdxX - bh * s.QueryBlocks) * s.Rows;
        int b = bh / s.Heads, h = bh - b * s.Heads;
        int rows = Math.Min(s.Rows, s.T - t0);
        int ld = s.Ld, bc = s.TileKeys, d = s.D;
        // Shared layout: Q [Rows, ld] | K or V [TileKeys, ld] | P [Rows, TileKeys] | max | sum | rescale.
        int kvAt = s.Rows * ld, pAt = kvAt + bc * ld, mAt = pAt + s.Rows * bc, lAt = mAt + s.Rows, aAt = lAt + s.Rows;
        long qBase = ((long)b * s.T + t0) * s.C + (long)h * d;
        long kBase = (long)b * s.S * s.C + (long)h * d;

        for (int idx = tid; idx < rows * d; idx += threads)
        {
            int i = idx / d, c = idx - i * d;
            shared[i * ld + c] = q[qBase + (long)i * s.C + c];
        }
        if (tid < s.Rows)
        {
            shared[mAt + tid] = float.NegativeInfinity;
            shared[lAt + tid] = 0f;
        }

        int row = tid / s.ThreadsPerRow, lane = tid - row * s.ThreadsPerRow, tpr = s.ThreadsPerRow;
        bool owner = row < rows;
        float a0 = 0, a1 = 0, a2 = 0, a3 = 0, a4 = 0, a5 = 0, a6 = 0, a7 = 0;

        for (int j0 = 0; j0 < s.S; j0 += bc)
        {
            int cols = Math.Min(bc, s.S - j0);
            Group.Barrier(); // the previous tile's V and P are consumed
            for (int idx = tid; idx < cols * d; idx += threads)
            {
                int j = idx / d, c = idx - j * d;
                shared[kvAt + j * ld + c] = k[kBase + (long)(j0 + j) * s.C + c];
            }
            Group.Barrier();
            for (int idx = tid; idx < rows * cols; idx += threads)
            {
                int i = idx / cols, j = idx - i * cols;
                int qi = i * ld, kj = kvAt + j * ld;
                float dot = 0;
                for (int c = 0; c < d; c++) dot += shared[qi + c] * shared[kj + c];
                shared[pAt + i * bc + j] = dot * s.Scale;
            }
            Group.Barrier();
            if (tid < rows)
            {
                float mOld = shared[mAt + tid], mNew = mOld;
                for (int j = 0; j < cols; j++) mNew = XMath.Max(mNew, shared[pAt + tid * bc + j]);
                shared[aAt + tid] = mOld == float.NegativeInfinity ? 0f : XMath.Exp(mOld - mNew);
                shared[mAt + tid] = mNew;
            }
            Group.Barrier();
            for (int idx = tid; idx < rows * cols; idx += threads)
            {
                int i = idx / cols, j = idx - i * cols;
                shared[pAt + i * bc + j] = XMath.Exp(shared[pAt + i * bc + j] - shared[mAt + i]);
            }
            for (int idx = tid; idx < cols * d; idx += threads) // K is no longer needed: V takes its place
            {
                int j = idx / d, c = idx - j * d;
                shared[kvAt + j * ld + c] = v[kBase + (long)(j0 + j) * s.C + c];
            }
            Group.Barrier();
            if (tid < rows)
            {
                float sum = 0;
                for (int j = 0; j < cols; j++) sum += shared[pAt + tid * bc + j];
                shared[lAt + tid] = shared[lAt + tid] * shared[aAt + tid] + sum;
            }
            if (owner)
            {
                float alpha = shared[aAt + row];
                a0 *= alpha; a1 *= alpha; a2 *= alpha; a3 *= alpha; a4 *= alpha; a5 *= alpha; a6 *= alpha; a7 *= alpha;
                int pRow = pAt + row * bc;
                for (int j = 0; j < cols; j++)
                {
                    float p = shared[pRow + j];
                    int at = kvAt + j * ld + lane;
                    a0 += p * shared[at];
                    a1 += p * shared[at + tpr];
                    a2 += p * shared[at + 2 * tpr];
                    a3 += p * shared[at + 3 * tpr];
                    a4 += p * shared[at + 4 * tpr];
                    a5 += p * shared[at + 5 * tpr];
                    a6 += p * shared[at + 6 * tpr];
                    a7 += p * shared[at + 7 * tpr];
                }
            }
        }
        Group.Barrier(); // the row sums are complete
        if (!owner) return;
        float inv = 1f / shared[lAt + row];
        long oRow = qBase + (long)row * s.C;
        Store(o, oRow, lane, d, a0 * inv);
        Store(o, oRow, lane + tpr, d, a1 * inv);
        Store(o, oRow, lane + 2 * tpr, d, a2 * inv);
        Store(o, oRow, lane + 3 * tpr, d, a3 * inv);
        Store(o, oRow, lane + 4 * tpr, d, a4 * inv);
        Store(o, oRow, lane + 5 * tpr, d, a5 * inv);
        Store(o, oRow, lane + 6 * tpr, d, a6 * inv);
        Store(o, oRow, lane + 7 * tpr, d, a7 * inv);
    }

    private static void Store(ArrayView<float> o, long rowBase, int c, int d, float value)
    {
        if (c < d) o[rowBase + c] = value;
    }

    // ---------------------------------------------------------------- row-wise kernel (any head dim)

    private static void Rowwise(ArrayView<float> q, ArrayView<float> k, ArrayView<float> v, ArrayView<float> o, AttentionShape s)
    {
        var shared = SharedMemory.GetDynamic<float>(); // scores [TileKeys] | reduction [threads]
        int tid = Group.IdxX, threads = Group.DimX;
        int bh = Grid.IdxX / s.T, t = Grid.IdxX - bh * s.T;
        int b = bh / s.Heads, h = bh - b * s.Heads;
        int d = s.D, chunk = s.TileKeys, red = chunk;
        long qRow = ((long)b * s.T + t) * s.C + (long)h * d;
        long kBase = (long)b * s.S * s.C + (long)h * d;
        int warp = Warp.WarpIdx, warpLane = Warp.LaneIdx, warpSize = Warp.WarpSize, warps = threads / warpSize;
        float m = float.NegativeInfinity, l = 0;

        for (int j0 = 0; j0 < s.S; j0 += chunk)
        {
            int cols = Math.Min(chunk, s.S - j0);
            for (int j = warp; j < cols; j += warps)
            {
                long kRow = kBase + (long)(j0 + j) * s.C;
                float dot = 0;
                for (int c = warpLane; c < d; c += warpSize) dot += q[qRow + c] * k[kRow + c];
                for (int offset = warpSize / 2; offset > 0; offset /= 2) dot += Warp.ShuffleXor(dot, offset);
                if (warpLane == 0) shared[j] = dot * s.Scale;
            }
            Group.Barrier();
            float local = float.NegativeInfinity;
            for (int j = tid; j < cols; j += threads) local = XMath.Max(local, shared[j]);
            float chunkMax = GroupReduce(shared, red, tid, threads, local, max: true);
            float mNew = XMath.Max(m, chunkMax);
            float alpha = m == float.NegativeInfinity ? 0f : XMath.Exp(m - mNew);
            float part = 0;
            for (int j = tid; j < cols; j += threads)
            {
                float p = XMath.Exp(shared[j] - mNew);
                shared[j] = p;
                part += p;
            }
            float chunkSum = GroupReduce(shared, red, tid, threads, part, max: false); // its barriers publish p
            l = l * alpha + chunkSum;
            m = mNew;
            for (int c = tid; c < d; c += threads)
            {
                float acc = j0 == 0 ? 0f : o[qRow + c] * alpha;
                long vAt = kBase + (long)j0 * s.C + c;
                for (int j = 0; j < cols; j++, vAt += s.C) acc += shared[j] * v[vAt];
                o[qRow + c] = acc;
            }
            Group.Barrier(); // scores of the next chunk overwrite p
        }
        float inv = 1f / l;
        for (int c = tid; c < d; c += threads) o[qRow + c] *= inv;
    }

    /// <summary>Max or sum over the group through shared memory (threads is a power of two); every thread gets the result.</summary>
    private static float GroupReduce(ArrayView<float> shared, int at, int tid, int threads, float value, bool max)
    {
        shared[at + tid] = value;
        Group.Barrier();
        for (int half = threads / 2; half > 0; half /= 2)
        {
            if (tid < half)
            {
                float other = shared[at + tid + half];
                shared[at + tid] = max ? XMath.Max(shared[at + tid], other) : shared[at + tid] + other;
            }
            Group.Barrier();
        }
        float result = shared[at];
        Group.Barrier(); // everyone has read the result before the buffer is reused
        return result;
    }
}
