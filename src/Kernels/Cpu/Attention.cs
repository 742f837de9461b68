using System.Buffers;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DiffusionKernels.Kernels.Cpu;

/// <summary>
/// Multi-head scaled dot-product attention over row-major token tensors: q [B, T, C], k and v [B, S, C],
/// o [B, T, C]; head h uses channels [h·d, (h+1)·d). Fused per (batch, head, block of queries): the block's
/// scores against all keys go to a pooled per-thread scratch of at most <see cref="ScratchFloats"/> floats,
/// get a stable softmax (row max subtracted) and are multiplied by V straight into o. The T×S matrix is never
/// materialized beyond one block per thread.
/// </summary>
internal static class Attention
{
    /// <summary>The score scratch per thread (floats): a query block holds about this many scores.</summary>
    public const int ScratchFloats = 32 * 1024;

    private const int MaxBlockRows = 64;
    private const int Lanes = 8; // Vector256<float>.Count

    /// <summary>o = softmax(q·kᵀ·scale)·v for every batch and head. o must not overlap q, k or v.</summary>
    public static unsafe void Forward(ReadOnlySpan<float> q, ReadOnlySpan<float> k, ReadOnlySpan<float> v, Span<float> o,
        int batch, int queries, int keys, int channels, int heads, float scale)
    {
        long qLen = (long)batch * queries * channels, kLen = (long)batch * keys * channels;
        int d = channels / heads;
        int rows = BlockRows(queries, keys, batch * heads);
        int blocksPerHead = (queries + rows - 1) / rows;
        int tasks = batch * heads * blocksPerHead;
        var shape = new Dims(queries, keys, channels, heads, d, rows, blocksPerHead, scale);

        fixed (float* pq = q, pk = k, pv = v, po = o)
        {
            var ptrs = new Pointers(pq, pk, pv, po);
            double flops = 4.0 * batch * heads * queries * (double)keys * d;
            if (flops < 2e6 || tasks == 1 || Environment.ProcessorCount == 1)
            {
                var scratch = ArrayPool<float>.Shared.Rent(rows * keys);
                try
                {
                    for (int task = 0; task < tasks; task++) Block(ptrs, shape, task, scratch);
                }
                finally { ArrayPool<float>.Shared.Return(scratch); }
                return;
            }
            Parallel.For(0, tasks,
                () => ArrayPool<float>.Shared.Rent(rows * keys),
                (task, _, scratch) => { Block(ptrs, shape, task, scratch); return scratch; },
                scratch => ArrayPool<float>.Shared.Return(scratch));
        }
    }

    /// <summary>Queries per block: as many as keep the block's scores within the scratch, a multiple of 4.</summary>
    private static int BlockRows(int queries, int keys, int heads)
    {
        int rows = Math.Clamp(ScratchFloats / Math.Max(keys, 1) / 4 * 4, 4, MaxBlockRows);
        // Enough blocks to keep every core busy when there are few (batch, head) pairs.
        int wanted = 4 * Environment.ProcessorCount;
        while (rows > 4 && (long)heads * ((queries + rows - 1) / rows) < wanted) rows -= 4;
        return Math.Min(rows, queries);
    }

    private readonly unsafe struct Pointers(float* q, float* k, float* v, float* o)
    {
        public readonly float* Q = q, K = k, V = v, O = o;
    }

    private readonly record struct Dims(int T, int S, int C, int Heads, int D, int Rows, int BlocksPerHead, float Scale);

    private static unsafe void Block(Pointers p, Dims s, int task, float[] scratchArray)
    {
        int bh = task / s.BlocksPerHead, qb = task - bh * s.BlocksPerHead;
        int b = bh / s.Heads, h = bh - b * s.Heads;
        int t0 = qb * s.Rows, rows = Math.Min(s.Rows, s.T - t0);
        long headOffset = (long)h * s.D;
        float* q = p.Q + ((long)b * s.T + t0) * s.C + headOffset;
        float* k = p.K + (long)b * s.S * s.C + headOffset;
        float* v = p.V + (long)b * s.S * s.C + headOffset;
        float* o = p.O + ((long)b * s.T + t0) * s.C + headOffset;
        fixed (float* scores = scratchArray)
        {
            Scores(q, k, scores, rows, s.S, s.C, s.D, s.Scale);
            for (int i = 0; i < rows; i++) SoftmaxRow(scores + (long)i * s.S, s.S);
            Accumulate(scores, v, o, rows, s.S, s.C, s.D);
        }
    }

    // ---------------------------------------------------------------- scores = q·kᵀ·scale

    private static unsafe void Scores(float* q, float* k, float* scores, int rows, int keys, int ld, int d, float scale)
    {
        int i = 0;
        for (; i + 4 <= rows; i += 4)
        {
            float* q0 = q + (long)i * ld;
            int j = 0;
            if (Avx.IsSupported) // else the plain dots below
                for (; j + 2 <= keys; j += 2) Dot4x2(q0, k + (long)j * ld, ld, d, scores + (long)i * keys + j, keys, scale);
            for (; j < keys; j++)
                for (int r = 0; r < 4; r++) scores[(long)(i + r) * keys + j] = Dot(q0 + (long)r * ld, k + (long)j * ld, d) * scale;
        }
        for (; i < rows; i++)
            for (int j = 0; j < keys; j++) scores[(long)i * keys + j] = Dot(q + (long)i * ld, k + (long)j * ld, d) * scale;
    }

    /// <summary>Eight dot products at once (4 queries × 2 keys): each key vector is loaded once for four queries.</summary>
    private static unsafe void Dot4x2(float* q, float* k, int ld, int d, float* dst, int ldDst, float scale)
    {
        var a00 = Vector256<float>.Zero; var a01 = Vector256<float>.Zero;
        var a10 = Vector256<float>.Zero; var a11 = Vector256<float>.Zero;
        var a20 = Vector256<float>.Zero; var a21 = Vector256<float>.Zero;
        var a30 = Vector256<float>.Zero; var a31 = Vector256<float>.Zero;
        float* k0 = k, k1 = k + ld;
        float* q0 = q, q1 = q + ld, q2 = q + 2 * ld, q3 = q + 3 * ld;
        int c = 0;
        for (; c + Lanes <= d; c += Lanes)
        {
            var x0 = Vector256.Load(k0 + c);
            var x1 = Vector256.Load(k1 + c);
            var y = Vector256.Load(q0 + c);
            a00 = Vector256.MultiplyAddEstimate(y, x0, a00); a01 = Vector256.MultiplyAddEstimate(y, x1, a01);
            y = Vector256.Load(q1 + c);
            a10 = Vector256.MultiplyAddEstimate(y, x0, a10); a11 = Vector256.MultiplyAddEstimate(y, x1, a11);
            y = Vector256.Load(q2 + c);
            a20 = Vector256.MultiplyAddEstimate(y, x0, a20); a21 = Vector256.MultiplyAddEstimate(y, x1, a21);
            y = Vector256.Load(q3 + c);
            a30 = Vector256.MultiplyAddEstimate(y, x0, a30); a31 = Vector256.MultiplyAddEstimate(y, x1, a31);
        }
        // Reduce the eight accumulators together: [s00, s01, s10, s11, s20, s21, s30, s31].
        var g0 = Avx.HorizontalAdd(Avx.HorizontalAdd(a00, a01), Avx.HorizontalAdd(a10, a11));
        var g1 = Avx.HorizontalAdd(Avx.HorizontalAdd(a20, a21), Avx.HorizontalAdd(a30, a31));
        var sums = Avx.Add(Avx.Permute2x128(g0, g1, 0x20), Avx.Permute2x128(g0, g1, 0x31));
        float s00 = sums[0], s01 = sums[1], s10 = sums[2], s11 = sums[3], s20 = sums[4], s21 = sums[5], s30 = sums[6], s31 = sums[7];
        for (; c < d; c++)
        {
            float x0 = k0[c], x1 = k1[c];
            s00 += q0[c] * x0; s01 += q0[c] * x1;
            s10 += q1[c] * x0; s11 += q1[c] * x1;
            s20 += q2[c] * x0; s21 += q2[c] * x1;
            s30 += q3[c] * x0; s31 += q3[c] * x1;
        }
        dst[0] = s00 * scale; dst[1] = s01 * scale;
        dst[ldDst] = s10 * scale; dst[ldDst + 1] = s11 * scale;
        dst[2 * ldDst] = s20 * scale; dst[2 * ldDst + 1] = s21 * scale;
        dst[3 * ldDst] = s30 * scale; dst[3 * ldDst + 1] = s31 * scale;
    }

    private static unsafe float Dot(float* a, float* b, int n)
    {
        var acc = Vector256<float>.Zero;
        int c = 0;
        for (; c + Lanes <= n; c += Lanes) acc = Vector256.MultiplyAddEstimate(Vector256.Load(a + c), Vector256.Load(b + c), acc);
        float s = Vector256.Sum(acc);
        for (; c < n; c++) s += a[c] * b[c];
        return s;
    }

    // ---------------------------------------------------------------- stable softmax of one row, in place

    private static unsafe void SoftmaxRow(float* row, int n)
    {
        int c = 0;
        var vmax = Vector256.Create(float.NegativeInfinity);
        for (; c + Lanes <= n; c += Lanes) vmax = Vector256.Max(vmax, Vector256.Load(row + c));
        float max = float.NegativeInfinity;
        for (int l = 0; l < Lanes; l++) max = MathF.Max(max, vmax[l]);
        for (; c < n; c++) max = MathF.Max(max, row[c]);

        var shift = Vector256.Create(max);
        var vsum = Vector256<float>.Zero;
        c = 0;
        for (; c + Lanes <= n; c += Lanes)
        {
            var e = Vector256.Exp(Vector256.Load(row + c) - shift);
            e.Store(row + c);
            vsum += e;
        }
        float sum = Vector256.Sum(vsum);
        for (; c < n; c++)
        {
            float e = MathF.Exp(row[c] - max);
            row[c] = e;
            sum += e;
        }
        // Normalizing the S probabilities costs far less than the S·d products that follow.
        NormalizeRow(row, n, 1f / sum);
    }

    private static unsafe void NormalizeRow(float* row, int n, float inv)
    {
        var vi = Vector256.Create(inv);
        int c = 0;
        for (; c + Lanes <= n; c += Lanes) (Vector256.Load(row + c) * vi).Store(row + c);
        for (; c < n; c++) row[c] *= inv;
    }

    // ---------------------------------------------------------------- o = p·v

    private static unsafe void Accumulate(float* p, float* v, float* o, int rows, int keys, int ld, int d)
    {
        int i = 0;
        for (; i + 4 <= rows; i += 4) Rows4(p + (long)i * keys, v, o + (long)i * ld, keys, ld, d);
        for (; i < rows; i++) Rows1(p + (long)i * keys, v, o + (long)i * ld, keys, ld, d);
    }

    /// <summary>Four output rows: 16 columns at a time in 8 accumulators, each V load serving four rows.</summary>
    private static unsafe void Rows4(float* p, float* v, float* o, int keys, int ld, int d)
    {
        float* p0 = p, p1 = p + keys, p2 = p + 2 * keys, p3 = p + 3 * keys;
        int c = 0;
        for (; c + 2 * Lanes <= d; c += 2 * Lanes)
        {
            var a00 = Vector256<float>.Zero; var a01 = Vector256<float>.Zero;
            var a10 = Vector256<float>.Zero; var a11 = Vector256<float>.Zero;
            var a20 = Vector256<float>.Zero; var a21 = Vector256<float>.Zero;
            var a30 = Vector256<float>.Zero; var a31 = Vector256<float>.Zero;
            float* vc = v + c;
            for (int j = 0; j < keys; j++, vc += ld)
            {
                var x0 = Vector256.Load(vc);
                var x1 = Vector256.Load(vc + Lanes);
                var w = Vector256.Create(p0[j]);
                a00 = Vector256.MultiplyAddEstimate(w, x0, a00); a01 = Vector256.MultiplyAddEstimate(w, x1, a01);
                w = Vector256.Create(p1[j]);
                a10 = Vector256.MultiplyAddEstimate(w, x0, a10); a11 = Vector256.MultiplyAddEstimate(w, x1, a11);
                w = Vector256.Create(p2[j]);
                a20 = Vector256.MultiplyAddEstimate(w, x0, a20); a21 = Vector256.MultiplyAddEstimate(w, x1, a21);
                w = Vector256.Create(p3[j]);
                a30 = Vector256.MultiplyAddEstimate(w, x0, a30); a31 = Vector256.MultiplyAddEstimate(w, x1, a31);
            }
            a00.Store(o + c); a01.Store(o + c + Lanes);
            a10.Store(o + ld + c); a11.Store(o + ld + c + Lanes);
            a20.Store(o + 2 * ld + c); a21.Store(o + 2 * ld + c + Lanes);
            a30.Store(o + 3 * ld + c); a31.Store(o + 3 * ld + c + Lanes);
        }
        for (; c + Lanes <= d; c += Lanes)
        {
            var a0 = Vector256<float>.Zero; var a1 = Vector256<float>.Zero;
            var a2 = Vector256<float>.Zero; var a3 = Vector256<float>.Zero;
            float* vc = v + c;
            for (int j = 0; j < keys; j++, vc += ld)
            {
                var x = Vector256.Load(vc);
                a0 = Vector256.MultiplyAddEstimate(Vector256.Create(p0[j]), x, a0);
                a1 = Vector256.MultiplyAddEstimate(Vector256.Create(p1[j]), x, a1);
                a2 = Vector256.MultiplyAddEstimate(Vector256.Create(p2[j]), x, a2);
                a3 = Vector256.MultiplyAddEstimate(Vector256.Create(p3[j]), x, a3);
            }
            a0.Store(o + c); a1.Store(o + ld + c); a2.Store(o + 2 * ld + c); a3.Store(o + 3 * ld + c);
        }
        for (; c < d; c++)
        {
            float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
            float* vc = v + c;
            for (int j = 0; j < keys; j++, vc += ld)
            {
                float x = *vc;
                s0 += p0[j] * x; s1 += p1[j] * x; s2 += p2[j] * x; s3 += p3[j] * x;
            }
            o[c] = s0; o[ld + c] = s1; o[2 * ld + c] = s2; o[3 * ld + c] = s3;
        }
    }

    private static unsafe void Rows1(float* p, float* v, float* o, int keys, int ld, int d)
    {
        int c = 0;
        for (; c + Lanes <= d; c += Lanes)
        {
            var a = Vector256<float>.Zero;
            float* vc = v + c;
            for (int j = 0; j < keys; j++, vc += ld) a = Vector256.MultiplyAddEstimate(Vector256.Create(p[j]), Vector256.Load(vc), a);
            a.Store(o + c);
        }
        for (; c < d; c++)
        {
            float s = 0;
            float* vc = v + c;
            for (int j = 0; j < keys; j++, vc += ld) s += p[j] * *vc;
            o[c] = s;
        }
    }
}
