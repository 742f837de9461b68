using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace DiffusionKernels.Kernels.Cpu;

/// <summary>
/// Single-precision GEMM over row-major spans: C = alpha·op(A)·op(B) + beta·C, where op(A) is [M, K]
/// and op(B) is [K, N]. The CPU workhorse under linear, batched matmul and convolution (im2col).
/// </summary>
/// <remarks>
/// GEBP scheme: C is cut into per-thread rectangles; each thread loops over N blocks (NC), K blocks (KC, B block
/// packed into NR-wide column panels) and M blocks (MC, A block packed into MR-tall row panels), and a register-blocked
/// micro-kernel multiplies one A panel by one B panel into an MR×NR tile of C held in SIMD registers. Panels are
/// zero-padded to whole tiles, so the micro-kernel never branches on edges; only its store clips.
/// </remarks>
[SkipLocalsInit]
internal static unsafe class Sgemm
{
    private enum Isa { Avx512, Avx2, Portable }

    private static readonly Isa Path =
        Avx512F.IsSupported ? Isa.Avx512 : Avx2.IsSupported && Fma.IsSupported ? Isa.Avx2 : Isa.Portable;

    // Tile of C kept in registers: AVX-512 12×32 (24 zmm accumulators of 32), AVX2 6×16 (12 ymm of 16),
    // portable 4×(2 vectors).
    internal static readonly int MR = Path switch { Isa.Avx512 => 12, Isa.Avx2 => 6, _ => 4 };
    internal static readonly int NR = Path switch { Isa.Avx512 => 32, Isa.Avx2 => 16, _ => 2 * Vector<float>.Count };

    // KC·NR floats of B (the panel reused by every A panel) stay in L1; MC·KC floats of A stay in L2.
    internal static readonly int KC = Path == Isa.Avx512 ? 192 : 256;
    private static readonly int MC = MR * (Path == Isa.Avx512 ? 12 : 24);
    private const int NC = 2048;

    // Below ~2 MFLOP, handing half the work to another thread costs more than it saves.
    private const double ParallelFlops = 2e6;

    /// <summary>The micro-kernel in use, e.g. "avx512 12x32" (for benchmark tables and logs).</summary>
    public static string KernelName => $"{Path.ToString().ToLowerInvariant()} {MR}x{NR}";

    /// <summary>
    /// Row-major GEMM. A is [M, K] (or [K, M] when <paramref name="transA"/>) with leading dimension
    /// <paramref name="lda"/>; B is [K, N] (or [N, K] when <paramref name="transB"/>) with <paramref name="ldb"/>;
    /// C is [M, N] with <paramref name="ldc"/>. beta = 0 overwrites C without reading it.
    /// </summary>
    public static void Multiply(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc) =>
        Multiply(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, Environment.ProcessorCount);

    /// <summary>As the public overload, on at most <paramref name="maxThreads"/> threads (1 when the caller already
    /// spreads independent GEMMs over the cores).</summary>
    internal static void Multiply(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc, int maxThreads)
    {
        if (m < 0 || n < 0 || k < 0) throw new ArgumentOutOfRangeException(nameof(m), $"sgemm: negative size m={m}, n={n}, k={k}");
        if (m == 0 || n == 0) return;
        CheckOperand("C", c.Length, m, n, ldc);
        if (k == 0 || alpha == 0)
        {
            fixed (float* pc = c) Scale(pc, ldc, m, n, beta);
            return;
        }
        CheckOperand("A", a.Length, transA ? k : m, transA ? m : k, lda);
        CheckOperand("B", b.Length, transB ? n : k, transB ? k : n, ldb);

        fixed (float* pa = a, pb = b, pc = c)
        {
            var job = new Job(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc);
            int panelsM = (m + MR - 1) / MR, panelsN = (n + NR - 1) / NR;
            int threads = 2.0 * m * n * k < ParallelFlops ? 1 : maxThreads;
            // Split C along the side with more panels so every thread gets whole tiles.
            bool splitM = panelsM >= panelsN;
            int panels = splitM ? panelsM : panelsN;
            threads = Math.Min(threads, panels);
            if (threads <= 1)
            {
                Block(job, 0, m, 0, n);
                return;
            }
            SplitOverThreads(job, splitM, panels, threads);
        }
    }

    // A separate method, so the closure is allocated only when the work really goes parallel.
    private static void SplitOverThreads(Job job, bool splitM, int panels, int threads)
    {
        int per = (panels + threads - 1) / threads;
        threads = (panels + per - 1) / per;
        Parallel.For(0, threads, t =>
        {
            if (splitM) Block(job, t * per * MR, Math.Min(job.M, (t + 1) * per * MR), 0, job.N);
            else Block(job, 0, job.M, t * per * NR, Math.Min(job.N, (t + 1) * per * NR));
        });
    }

    private static void CheckOperand(string name, int length, int rows, int cols, int ld)
    {
        if (ld < cols) throw new ArgumentException($"sgemm: leading dimension of {name} is {ld}, less than its {cols} columns");
        if ((long)(rows - 1) * ld + cols > length)
            throw new ArgumentException($"sgemm: {name} [{rows}, {cols}] with leading dimension {ld} needs {(long)(rows - 1) * ld + cols} elements, span has {length}");
    }

    /// <summary>C = beta·C (beta = 0 writes zeros without reading C), for k = 0 or alpha = 0.</summary>
    private static void Scale(float* c, int ldc, int m, int n, float beta)
    {
        for (int i = 0; i < m; i++)
        {
            var row = new Span<float>(c + (long)i * ldc, n);
            if (beta == 0) row.Clear();
            else if (beta != 1) for (int j = 0; j < n; j++) row[j] *= beta;
        }
    }

    private readonly struct Job(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, int lda, float* b, int ldb, float beta, float* c, int ldc)
    {
        public readonly bool TransA = transA, TransB = transB;
        public readonly int M = m, N = n, K = k, Lda = lda, Ldb = ldb, Ldc = ldc;
        public readonly float Alpha = alpha, Beta = beta;
        public readonly float* A = a, B = b, C = c;
    }

    /// <summary>C[i0..i1, j0..j1] on the calling thread.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // no tier-0 code: a GEMM's first calls are already long and hot
    private static void Block(in Job job, int i0, int i1, int j0, int j1)
    {
        int kcMax = Math.Min(KC, job.K);
        int ncMax = Math.Min(NC, RoundUp(j1 - j0, NR));
        int mcMax = Math.Min(MC, RoundUp(i1 - i0, MR));
        float* packedA = Scratch.A(mcMax * kcMax);
        float* packedB = Scratch.B(ncMax * kcMax);
        for (int jc = j0; jc < j1; jc += NC)
        {
            int nc = Math.Min(NC, j1 - jc);
            for (int pc = 0; pc < job.K; pc += KC)
            {
                int kc = Math.Min(KC, job.K - pc);
                // Later K blocks accumulate onto what the first one wrote.
                float beta = pc == 0 ? job.Beta : 1f;
                PackB(job, pc, kc, jc, nc, packedB);
                for (int ic = i0; ic < i1; ic += MC)
                {
                    int mc = Math.Min(MC, i1 - ic);
                    PackA(job, ic, mc, pc, kc, packedA);
                    for (int jr = 0; jr < nc; jr += NR)
                    {
                        int cols = Math.Min(NR, nc - jr);
                        float* pb = packedB + (long)jr * kc;
                        float* cBase = job.C + (long)ic * job.Ldc + jc + jr;
                        for (int ir = 0; ir < mc; ir += MR)
                        {
                            int rows = Math.Min(MR, mc - ir);
                            float* pa = packedA + (long)ir * kc;
                            float* cTile = cBase + (long)ir * job.Ldc;
                            switch (Path)
                            {
                                case Isa.Avx512: Kernel12x32(kc, pa, pb, cTile, job.Ldc, job.Alpha, beta, rows, cols); break;
                                case Isa.Avx2: Kernel6x16(kc, pa, pb, cTile, job.Ldc, job.Alpha, beta, rows, cols); break;
                                default: KernelPortable(kc, pa, pb, cTile, job.Ldc, job.Alpha, beta, rows, cols); break;
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// One MR×NR tile: C[rows, cols] = alpha·Σp a[p][r]·b[p][c] + beta·C, with <paramref name="a"/> an MR-row panel
    /// and <paramref name="b"/> an NR-column panel in this class's packed layouts (for kernels that pack their own
    /// operands, such as the implicit-GEMM convolution).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Tile(int kc, float* a, float* b, float* c, int ldc, float alpha, float beta, int rows, int cols)
    {
        switch (Path)
        {
            case Isa.Avx512: Kernel12x32(kc, a, b, c, ldc, alpha, beta, rows, cols); break;
            case Isa.Avx2: Kernel6x16(kc, a, b, c, ldc, alpha, beta, rows, cols); break;
            default: KernelPortable(kc, a, b, c, ldc, alpha, beta, rows, cols); break;
        }
    }

    private static int RoundUp(int x, int multiple) => (x + multiple - 1) / multiple * multiple;

    /// <summary>op(A)[ic.., pc..] into MR-row panels laid out [panel][p][r], zero rows past the edge.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackA(in Job job, int ic, int mc, int pc, int kc, float* dst)
    {
        int mr = MR;
        for (int ir = 0; ir < mc; ir += mr, dst += (long)mr * kc)
        {
            int rows = Math.Min(mr, mc - ir);
            if (!job.TransA)
            {
                // A(i, p) = a[i·lda + p]: walk each row, scatter with stride MR.
                for (int r = 0; r < rows; r++)
                {
                    float* src = job.A + (long)(ic + ir + r) * job.Lda + pc;
                    float* d = dst + r;
                    for (int p = 0; p < kc; p++) d[p * mr] = src[p];
                }
                for (int r = rows; r < mr; r++)
                    for (int p = 0; p < kc; p++) dst[p * mr + r] = 0;
            }
            else
            {
                // A(i, p) = a[p·lda + i]: each p is a contiguous run of rows.
                for (int p = 0; p < kc; p++)
                {
                    float* src = job.A + (long)(pc + p) * job.Lda + ic + ir;
                    float* d = dst + p * mr;
                    int r = 0;
                    for (; r < rows; r++) d[r] = src[r];
                    for (; r < mr; r++) d[r] = 0;
                }
            }
        }
    }

    /// <summary>op(B)[pc.., jc..] into NR-column panels laid out [panel][p][c], zero columns past the edge.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackB(in Job job, int pc, int kc, int jc, int nc, float* dst)
    {
        int nr = NR;
        for (int jr = 0; jr < nc; jr += nr, dst += (long)nr * kc)
        {
            int cols = Math.Min(nr, nc - jr);
            if (!job.TransB)
            {
                // B(p, j) = b[p·ldb + j]: each p is a contiguous run of columns.
                for (int p = 0; p < kc; p++)
                {
                    float* src = job.B + (long)(pc + p) * job.Ldb + jc + jr;
                    float* d = dst + p * nr;
                    if (cols == nr) Unsafe.CopyBlockUnaligned(d, src, (uint)(nr * sizeof(float)));
                    else
                    {
                        int c = 0;
                        for (; c < cols; c++) d[c] = src[c];
                        for (; c < nr; c++) d[c] = 0;
                    }
                }
            }
            else
            {
                // B(p, j) = b[j·ldb + p] (nn.Linear weights): 8×8 register transposes where whole, then scalar.
                float* src0 = job.B + (long)(jc + jr) * job.Ldb + pc;
                int p0 = 0;
                if (Avx.IsSupported && cols == nr && nr % 8 == 0)
                    for (; p0 + 8 <= kc; p0 += 8)
                        for (int c = 0; c < nr; c += 8)
                            Transpose8x8(src0 + (long)c * job.Ldb + p0, job.Ldb, dst + p0 * nr + c, nr);
                for (int c = 0; c < cols; c++)
                {
                    float* src = src0 + (long)c * job.Ldb;
                    float* d = dst + c;
                    for (int p = p0; p < kc; p++) d[p * nr] = src[p];
                }
                for (int c = cols; c < nr; c++)
                    for (int p = 0; p < kc; p++) dst[p * nr + c] = 0;
            }
        }
    }

    /// <summary>dst[q·ldd + i] = src[i·lds + q] for an 8×8 block (rows of src become columns of dst).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Transpose8x8(float* src, int lds, float* dst, int ldd)
    {
        var r0 = Avx.LoadVector256(src); var r1 = Avx.LoadVector256(src + lds);
        var r2 = Avx.LoadVector256(src + 2L * lds); var r3 = Avx.LoadVector256(src + 3L * lds);
        var r4 = Avx.LoadVector256(src + 4L * lds); var r5 = Avx.LoadVector256(src + 5L * lds);
        var r6 = Avx.LoadVector256(src + 6L * lds); var r7 = Avx.LoadVector256(src + 7L * lds);
        // Interleave pairs of rows, then pairs of pairs, within each 128-bit half…
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        // …then join the low halves (columns 0–3) and the high halves (columns 4–7) of rows 0–3 and 4–7.
        Avx.Store(dst, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(dst + ldd, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(dst + 2L * ldd, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(dst + 3L * ldd, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(dst + 4L * ldd, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(dst + 5L * ldd, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(dst + 6L * ldd, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(dst + 7L * ldd, Avx.Permute2x128(u3, u7, 0x31));
    }

    // ---- micro-kernels: acc[MR×NR] = Σp a[p][r]·b[p][c]; C = alpha·acc + beta·C on the rows×cols that exist ----

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel12x32(int kc, float* a, float* b, float* c, int ldc, float alpha, float beta, int rows, int cols)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default,
            c60 = default, c61 = default, c70 = default, c71 = default, c80 = default, c81 = default,
            c90 = default, c91 = default, ca0 = default, ca1 = default, cb0 = default, cb1 = default;
        for (int p = 0; p < kc; p++, a += 12, b += 32)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var x = Vector512.Create(a[0]); c00 = Avx512F.FusedMultiplyAdd(x, b0, c00); c01 = Avx512F.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a[1]); c10 = Avx512F.FusedMultiplyAdd(x, b0, c10); c11 = Avx512F.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a[2]); c20 = Avx512F.FusedMultiplyAdd(x, b0, c20); c21 = Avx512F.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a[3]); c30 = Avx512F.FusedMultiplyAdd(x, b0, c30); c31 = Avx512F.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(a[4]); c40 = Avx512F.FusedMultiplyAdd(x, b0, c40); c41 = Avx512F.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(a[5]); c50 = Avx512F.FusedMultiplyAdd(x, b0, c50); c51 = Avx512F.FusedMultiplyAdd(x, b1, c51);
            x = Vector512.Create(a[6]); c60 = Avx512F.FusedMultiplyAdd(x, b0, c60); c61 = Avx512F.FusedMultiplyAdd(x, b1, c61);
            x = Vector512.Create(a[7]); c70 = Avx512F.FusedMultiplyAdd(x, b0, c70); c71 = Avx512F.FusedMultiplyAdd(x, b1, c71);
            x = Vector512.Create(a[8]); c80 = Avx512F.FusedMultiplyAdd(x, b0, c80); c81 = Avx512F.FusedMultiplyAdd(x, b1, c81);
            x = Vector512.Create(a[9]); c90 = Avx512F.FusedMultiplyAdd(x, b0, c90); c91 = Avx512F.FusedMultiplyAdd(x, b1, c91);
            x = Vector512.Create(a[10]); ca0 = Avx512F.FusedMultiplyAdd(x, b0, ca0); ca1 = Avx512F.FusedMultiplyAdd(x, b1, ca1);
            x = Vector512.Create(a[11]); cb0 = Avx512F.FusedMultiplyAdd(x, b0, cb0); cb1 = Avx512F.FusedMultiplyAdd(x, b1, cb1);
        }
        float* t = stackalloc float[12 * 32];
        bool full = rows == 12 && cols == 32;
        float* o = full ? c : t;
        int ld = full ? ldc : 32;
        float bo = full ? beta : 0f;
        Store512(o, c00, c01, alpha, bo); o += ld;
        Store512(o, c10, c11, alpha, bo); o += ld;
        Store512(o, c20, c21, alpha, bo); o += ld;
        Store512(o, c30, c31, alpha, bo); o += ld;
        Store512(o, c40, c41, alpha, bo); o += ld;
        Store512(o, c50, c51, alpha, bo); o += ld;
        Store512(o, c60, c61, alpha, bo); o += ld;
        Store512(o, c70, c71, alpha, bo); o += ld;
        Store512(o, c80, c81, alpha, bo); o += ld;
        Store512(o, c90, c91, alpha, bo); o += ld;
        Store512(o, ca0, ca1, alpha, bo); o += ld;
        Store512(o, cb0, cb1, alpha, bo);
        if (!full) MergeEdge(t, 32, c, ldc, beta, rows, cols);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store512(float* c, Vector512<float> lo, Vector512<float> hi, float alpha, float beta)
    {
        var va = Vector512.Create(alpha);
        if (beta == 0)
        {
            (lo * va).Store(c);
            (hi * va).Store(c + 16);
        }
        else
        {
            var vb = Vector512.Create(beta);
            Avx512F.FusedMultiplyAdd(lo, va, Vector512.Load(c) * vb).Store(c);
            Avx512F.FusedMultiplyAdd(hi, va, Vector512.Load(c + 16) * vb).Store(c + 16);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel6x16(int kc, float* a, float* b, float* c, int ldc, float alpha, float beta, int rows, int cols)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default,
            c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++, a += 6, b += 16)
        {
            var b0 = Avx.LoadVector256(b);
            var b1 = Avx.LoadVector256(b + 8);
            var x = Vector256.Create(a[0]); c00 = Fma.MultiplyAdd(x, b0, c00); c01 = Fma.MultiplyAdd(x, b1, c01);
            x = Vector256.Create(a[1]); c10 = Fma.MultiplyAdd(x, b0, c10); c11 = Fma.MultiplyAdd(x, b1, c11);
            x = Vector256.Create(a[2]); c20 = Fma.MultiplyAdd(x, b0, c20); c21 = Fma.MultiplyAdd(x, b1, c21);
            x = Vector256.Create(a[3]); c30 = Fma.MultiplyAdd(x, b0, c30); c31 = Fma.MultiplyAdd(x, b1, c31);
            x = Vector256.Create(a[4]); c40 = Fma.MultiplyAdd(x, b0, c40); c41 = Fma.MultiplyAdd(x, b1, c41);
            x = Vector256.Create(a[5]); c50 = Fma.MultiplyAdd(x, b0, c50); c51 = Fma.MultiplyAdd(x, b1, c51);
        }
        float* t = stackalloc float[6 * 16];
        bool full = rows == 6 && cols == 16;
        float* o = full ? c : t;
        int ld = full ? ldc : 16;
        float bo = full ? beta : 0f;
        Store256(o, c00, c01, alpha, bo); o += ld;
        Store256(o, c10, c11, alpha, bo); o += ld;
        Store256(o, c20, c21, alpha, bo); o += ld;
        Store256(o, c30, c31, alpha, bo); o += ld;
        Store256(o, c40, c41, alpha, bo); o += ld;
        Store256(o, c50, c51, alpha, bo);
        if (!full) MergeEdge(t, 16, c, ldc, beta, rows, cols);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store256(float* c, Vector256<float> lo, Vector256<float> hi, float alpha, float beta)
    {
        var va = Vector256.Create(alpha);
        if (beta == 0)
        {
            (lo * va).Store(c);
            (hi * va).Store(c + 8);
        }
        else
        {
            var vb = Vector256.Create(beta);
            Fma.MultiplyAdd(lo, va, Avx.LoadVector256(c) * vb).Store(c);
            Fma.MultiplyAdd(hi, va, Avx.LoadVector256(c + 8) * vb).Store(c + 8);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void KernelPortable(int kc, float* a, float* b, float* c, int ldc, float alpha, float beta, int rows, int cols)
    {
        int w = Vector<float>.Count;
        Vector<float> c00 = default, c01 = default, c10 = default, c11 = default,
            c20 = default, c21 = default, c30 = default, c31 = default;
        for (int p = 0; p < kc; p++, a += 4, b += 2 * w)
        {
            var b0 = Unsafe.ReadUnaligned<Vector<float>>(b);
            var b1 = Unsafe.ReadUnaligned<Vector<float>>(b + w);
            var x = new Vector<float>(a[0]); c00 += x * b0; c01 += x * b1;
            x = new Vector<float>(a[1]); c10 += x * b0; c11 += x * b1;
            x = new Vector<float>(a[2]); c20 += x * b0; c21 += x * b1;
            x = new Vector<float>(a[3]); c30 += x * b0; c31 += x * b1;
        }
        float* t = stackalloc float[4 * 2 * w];
        int ld = 2 * w;
        Unsafe.WriteUnaligned(t, c00 * alpha); Unsafe.WriteUnaligned(t + w, c01 * alpha);
        Unsafe.WriteUnaligned(t + ld, c10 * alpha); Unsafe.WriteUnaligned(t + ld + w, c11 * alpha);
        Unsafe.WriteUnaligned(t + 2 * ld, c20 * alpha); Unsafe.WriteUnaligned(t + 2 * ld + w, c21 * alpha);
        Unsafe.WriteUnaligned(t + 3 * ld, c30 * alpha); Unsafe.WriteUnaligned(t + 3 * ld + w, c31 * alpha);
        MergeEdge(t, ld, c, ldc, beta, rows, cols);
    }

    /// <summary>C[r, j] = t[r, j] + beta·C[r, j] over the rows×cols that exist; t already holds alpha·acc.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MergeEdge(float* t, int ldt, float* c, int ldc, float beta, int rows, int cols)
    {
        for (int r = 0; r < rows; r++, t += ldt, c += ldc)
        {
            if (beta == 0) for (int j = 0; j < cols; j++) c[j] = t[j];
            else for (int j = 0; j < cols; j++) c[j] = t[j] + beta * c[j];
        }
    }

    /// <summary>Per-thread packing buffers: pinned, 64-byte aligned, grown on demand and then reused.</summary>
    private static class Scratch
    {
        [ThreadStatic] private static float[]? _a, _b;

        public static float* A(int length) => Get(ref _a, length);
        public static float* B(int length) => Get(ref _b, length);

        private static float* Get(ref float[]? buffer, int length)
        {
            if (buffer is null || buffer.Length < length + 16)
                buffer = GC.AllocateUninitializedArray<float>(length + 16, pinned: true);
            nint p = (nint)Unsafe.AsPointer(ref buffer[0]);
            return (float*)((p + 63) & ~(nint)63);
        }
    }
}
