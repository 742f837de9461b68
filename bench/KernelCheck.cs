using System.Diagnostics;
using DiffusionKernels.Kernels;
using DiffusionKernels.Kernels.Gpu;
using DiffusionKernels.Runtime;
using ILGPU;
using ILGPU.Runtime;

namespace DiffusionKernels.Bench;

/// <summary>
/// llm.c-style kernel history: <c>dotnet run -c Release --project bench -- kernel FAMILY [--device ilgpu-cpu|cuda]
/// [--reps N]</c> runs every kept version of a GPU kernel family (and launch shape: block sizes, odd edges) against a
/// naive double-precision reference on the host, then prints their times side by side. A version that disagrees is
/// marked and makes the command fail, so a faster kernel never replaces a correct one unproven. Families: gemm, conv,
/// attention, groupnorm. On <c>ilgpu-cpu</c> the shapes are small and the times say little; on CUDA they are the point.
/// </summary>
public static class KernelCheck
{
    public static readonly string[] Families = ["gemm", "conv", "attention", "groupnorm"];

    public static int Run(IReadOnlyList<string> args)
    {
        string Arg(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
        string family = args.Count > 0 && !args[0].StartsWith("--", StringComparison.Ordinal) ? args[0] : "";
        if (!Families.Contains(family))
        {
            Console.Error.WriteLine($"kernel: name a family: {string.Join(", ", Families)}");
            return 2;
        }
        string device = Arg("--device", Devices.CudaDevices().Count > 0 ? "cuda" : "ilgpu-cpu");
        int reps = int.Parse(Arg("--reps", device == "ilgpu-cpu" ? "2" : "20"), System.Globalization.CultureInfo.InvariantCulture);
        using var backend = Devices.Create(device) as IlgpuBackend
            ?? throw new ArgumentException($"kernel: {device} is not an ILGPU device (ilgpu-cpu or cuda)");
        bool big = backend.IsCuda;
        Console.WriteLine($"{family} kernels on {backend.Name} ({backend.Device.Description}), {reps} timed runs each; error = max |v − ref| / max |ref|");
        var table = new Table(backend, reps);
        switch (family)
        {
            case "gemm": Gemm(table, big); break;
            case "conv": Conv(table, big); break;
            case "attention": Attention(table, big); break;
            default: GroupNorm(table, big); break;
        }
        return table.Print();
    }

    // ---------------------------------------------------------------- families

    /// <summary>The row label of the TF32 tensor-core versions (checked at their own tolerance).</summary>
    private const string Tf32Version = "Tf32TensorCore";

    /// <summary>The row labels of the fp16 and bf16 tensor-core versions (checked at their own tolerances).</summary>
    private const string Fp16Version = "Fp16TensorCore", Bf16Version = "Bf16TensorCore", Fp16LdMatrixVersion = "Fp16TensorCoreLdMatrix",
        Fp16PipelinedVersion = "Fp16TensorCorePipelined";

    private static void Gemm(Table t, bool big)
    {
        var kernels = new GemmKernels(t.Accelerator);
        var tensorCore = new TensorCoreGemmKernels(t.Accelerator);
        var half = new HalfTensorCoreGemmKernels(t.Accelerator);
        int[][] shapes = big ? [[1, 512, 512, 512], [8, 256, 256, 64], [1, 4097, 129, 300], [70_000, 2, 3, 4], [1, 256, 16, 2304], [1, 2048, 2048, 1024]]
            : [[2, 9, 70, 19], [1, 65, 65, 17], [3, 130, 7, 33], [1, 17, 9, 300]];
        foreach (var s in shapes)
            foreach (bool transB in new[] { false, true })
            {
                int batch = s[0], m = s[1], n = s[2], k = s[3];
                var a = Noise(batch * m * k, 1);
                var b = Noise(batch * k * n, 2);
                var expected = new double[batch * m * n];
                for (int z = 0; z < batch; z++)
                    for (int i = 0; i < m; i++)
                        for (int j = 0; j < n; j++)
                        {
                            double sum = 0;
                            for (int p = 0; p < k; p++)
                                sum += (double)a[(z * m + i) * k + p] * (transB ? b[(z * n + j) * k + p] : b[(z * k + p) * n + j]);
                            expected[(z * m + i) * n + j] = sum;
                        }
                using var da = t.Accelerator.Allocate1D(a);
                using var db = t.Accelerator.Allocate1D(b);
                using var dc = t.Accelerator.Allocate1D<float>(expected.Length);
                using var workspace = t.Accelerator.Allocate1D<float>(Math.Max(1, TensorCoreGemmKernels.WorkspaceFloats(m, n, k, batch, SplitLaunch(m, n, k, batch, t.Multiprocessors))));
                var p0 = new GemmParams { M = m, N = n, K = k, Lda = k, Ldb = transB ? k : n, Ldc = n, StrideA = (long)m * k, StrideB = (long)k * n, StrideC = (long)m * n, TransB = transB ? 1 : 0, Alpha = 1f };
                t.Row($"{batch}×[{m}×{k}]·[{k}×{n}]{(transB ? "ᵀ" : "")}", expected, dc, 2.0 * batch * m * n * k,
                    Enum.GetValues<GemmVersion>().Select(v => (v.ToString(), (Action)(() => kernels.Run(t.Stream, da.View, db.View, dc.View, ArrayView<float>.Empty, p0, batch, v))))
                        .Concat(tensorCore.IsAvailable ? TensorCoreGemmVersions(t, tensorCore, da.View, db.View, dc.View, workspace.View, p0, batch) : [])
                        .Concat(half.IsAvailable ? [(Fp16Version, () => half.Run(t.Stream, HalfType.Fp16, da.View, db.View, dc.View, ArrayView<float>.Empty, dc.View, p0, batch)),
                            (Bf16Version, () => half.Run(t.Stream, HalfType.Bf16, da.View, db.View, dc.View, ArrayView<float>.Empty, dc.View, p0, batch)),
                            (Fp16LdMatrixVersion, () => half.Run(t.Stream, HalfType.Fp16, HalfGemmVersion.LdMatrix, da.View, db.View, dc.View, ArrayView<float>.Empty, dc.View, p0, batch)),
                            (Fp16PipelinedVersion, () => half.Run(t.Stream, HalfType.Fp16, HalfGemmVersion.Pipelined, da.View, db.View, dc.View, ArrayView<float>.Empty, dc.View, p0, batch))] : []));
            }
    }

    /// <summary>
    /// The tensor-core GEMM versions: 64×64 tiles (the first), 128×128 tiles, split-K (the policy's factor where it
    /// splits, else 4), the policy's choice, and 3xTF32 (checked at the fp32 tolerance).
    /// </summary>
    private static IEnumerable<(string, Action)> TensorCoreGemmVersions(Table t, TensorCoreGemmKernels kernels, ArrayView<float> a, ArrayView<float> b,
        ArrayView<float> c, ArrayView<float> workspace, GemmParams p, int batch)
    {
        var none = ArrayView<float>.Empty;
        var split = SplitLaunch(p.M, p.N, p.K, batch, t.Multiprocessors);
        var policy = TensorCoreTilePolicy.Choose(p.M, p.N, p.K, batch, t.Multiprocessors);
        yield return (Tf32Version, () => kernels.Run(t.Stream, a, b, c, none, c, p, batch));
        if (kernels.Has128)
            yield return ($"{Tf32Version} 128", () => kernels.Run(t.Stream, a, b, c, none, c, p, batch, new TensorCoreLaunch(TensorCoreTileShape.Tile128, 1), none));
        yield return ($"{Tf32Version} split {split.Slices}", () => kernels.Run(t.Stream, a, b, c, none, c, p, batch, split, workspace));
        if (policy.Tile == TensorCoreTileShape.Tile64 || kernels.Has128)
            yield return ($"{Tf32Version} policy {(int)policy.Tile}/{policy.Slices}", () => kernels.Run(t.Stream, a, b, c, none, c, p, batch, policy, workspace));
        yield return ("ThreeTf32", () => kernels.RunThreeTf32(t.Stream, a, b, c, none, c, p, batch));
    }

    /// <summary>The split the benchmark times: the policy's where it splits (so one workspace serves both rows), else 4 slices.</summary>
    private static TensorCoreLaunch SplitLaunch(int m, int n, int k, int batch, int multiprocessors)
    {
        var policy = TensorCoreTilePolicy.Choose(m, n, k, batch, multiprocessors);
        return policy.IsSplit ? policy : new TensorCoreLaunch(TensorCoreTileShape.Tile64, 4);
    }

    private static void Conv(Table t, bool big)
    {
        var kernels = new Conv2dKernels(t.Accelerator);
        var tensorCore = new TensorCoreConv2dKernels(t.Accelerator);
        var half = new HalfTensorCoreConv2dKernels(t.Accelerator);
        // n, cin, h, w, cout, k, stride, padding
        int[][] shapes = big ? [[8, 128, 32, 32, 128, 3, 1, 1], [1, 256, 16, 16, 256, 3, 2, 1], [3, 17, 33, 31, 130, 3, 2, 1], [4, 3, 64, 64, 64, 3, 1, 1], [1, 256, 4, 4, 256, 3, 1, 1]]
            : [[1, 3, 7, 5, 5, 3, 1, 1], [2, 2, 5, 13, 65, 1, 1, 0], [1, 5, 8, 7, 3, 3, 2, 0], [1, 32, 4, 4, 8, 3, 1, 1]];
        foreach (var s in shapes)
        {
            int n = s[0], cin = s[1], h = s[2], w = s[3], cout = s[4], k = s[5], stride = s[6], pad = s[7];
            int ho = (h + 2 * pad - k) / stride + 1, wo = (w + 2 * pad - k) / stride + 1;
            var x = Noise(n * cin * h * w, 3);
            var wt = Noise(cout * cin * k * k, 4);
            var expected = new double[n * cout * ho * wo];
            for (int b = 0; b < n; b++)
                for (int co = 0; co < cout; co++)
                    for (int oy = 0; oy < ho; oy++)
                        for (int ox = 0; ox < wo; ox++)
                        {
                            double sum = 0;
                            for (int ci = 0; ci < cin; ci++)
                                for (int ky = 0; ky < k; ky++)
                                    for (int kx = 0; kx < k; kx++)
                                    {
                                        int iy = oy * stride - pad + ky, ix = ox * stride - pad + kx;
                                        if (iy >= 0 && iy < h && ix >= 0 && ix < w) sum += (double)x[((b * cin + ci) * h + iy) * w + ix] * wt[((co * cin + ci) * k + ky) * k + kx];
                                    }
                            expected[((b * cout + co) * ho + oy) * wo + ox] = sum;
                        }
            using var dx = t.Accelerator.Allocate1D(x);
            using var dw = t.Accelerator.Allocate1D(wt);
            using var dy = t.Accelerator.Allocate1D<float>(expected.Length);
            var g = new Conv2dGeometry { Batch = n, InChannels = cin, Height = h, Width = w, OutChannels = cout, KernelHeight = k, KernelWidth = k, OutHeight = ho, OutWidth = wo, Stride = stride, Padding = pad, Scale = 1f };
            var split = SplitLaunch(cout, n * ho * wo, cin * k * k, 1, t.Multiprocessors);
            using var workspace = t.Accelerator.Allocate1D<float>(Math.Max(1, TensorCoreConv2dKernels.WorkspaceFloats(g, split)));
            t.Row($"{n}×{cin}×{h}×{w}→{cout} k{k} s{stride} p{pad}", expected, dy, 2.0 * n * cout * ho * wo * cin * k * k,
                Enum.GetValues<Conv2dAlgorithm>().Select(v => (v.ToString(), (Action)(() => kernels.Run(t.Stream, dx.View, dw.View, dw.View, dy.View, dy.View, g, v))))
                    .Concat(tensorCore.IsAvailable
                        ? TensorCoreConvVersions(t, tensorCore, dx.View, dw.View, dy.View, workspace.View, g, split)
                        : [])
                    .Concat(half.IsAvailable ? [(Fp16Version, () => half.Run(t.Stream, HalfType.Fp16, dx.View, dw.View, dw.View, dy.View, dy.View, dy.View, g)),
                        (Bf16Version, () => half.Run(t.Stream, HalfType.Bf16, dx.View, dw.View, dw.View, dy.View, dy.View, dy.View, g))] : []));
        }
    }

    /// <summary>
    /// The tensor-core convolution versions: 64×64 tiles (the first), 128×128 tiles, split-K (the policy's factor where
    /// it splits, else 4), the policy's choice, and 3xTF32 (checked at the fp32 tolerance).
    /// </summary>
    private static IEnumerable<(string, Action)> TensorCoreConvVersions(Table t, TensorCoreConv2dKernels kernels, ArrayView<float> x, ArrayView<float> w,
        ArrayView<float> y, ArrayView<float> workspace, Conv2dGeometry g, TensorCoreLaunch split)
    {
        var policy = TensorCoreTilePolicy.Choose(g.OutChannels, g.Batch * g.OutHeight * g.OutWidth, g.InChannels * g.KernelHeight * g.KernelWidth, 1, t.Multiprocessors);
        yield return (Tf32Version, () => kernels.Run(t.Stream, x, w, w, y, y, y, g));
        if (kernels.Has128)
            yield return ($"{Tf32Version} 128", () => kernels.Run(t.Stream, x, x, w, w, y, y, y, g, new TensorCoreLaunch(TensorCoreTileShape.Tile128, 1), workspace));
        yield return ($"{Tf32Version} split {split.Slices}", () => kernels.Run(t.Stream, x, x, w, w, y, y, y, g, split, workspace));
        if (policy.Tile == TensorCoreTileShape.Tile64 || kernels.Has128)
            yield return ($"{Tf32Version} policy {(int)policy.Tile}/{policy.Slices}", () => kernels.Run(t.Stream, x, x, w, w, y, y, y, g, policy, workspace));
        yield return ("ThreeTf32", () => kernels.RunThreeTf32(t.Stream, x, x, w, w, y, y, y, g, TensorCoreLaunch.Fixed64, workspace));
    }

    private static void Attention(Table t, bool big)
    {
        // batch, queries, keys, channels, heads
        int[][] shapes = big ? [[4, 256, 256, 256, 1], [2, 1024, 1024, 512, 8], [1, 300, 2000, 128, 2]] : [[1, 3, 70, 8, 1], [2, 5, 3, 10, 2], [1, 7, 9, 300, 1]];
        var chunked = new AttentionKernels(t.Accelerator, rowChunk: 8);
        var standard = new AttentionKernels(t.Accelerator);
        foreach (var s in shapes)
        {
            int batch = s[0], tq = s[1], sk = s[2], c = s[3], heads = s[4], d = c / heads;
            float scale = 1 / MathF.Sqrt(d);
            var q = Noise(batch * tq * c, 5);
            var k = Noise(batch * sk * c, 6);
            var v = Noise(batch * sk * c, 7);
            var expected = new double[batch * tq * c];
            var scores = new double[sk];
            for (int b = 0; b < batch; b++)
                for (int h = 0; h < heads; h++)
                    for (int i = 0; i < tq; i++)
                    {
                        double max = double.NegativeInfinity, total = 0;
                        for (int j = 0; j < sk; j++)
                        {
                            double dot = 0;
                            for (int e = 0; e < d; e++) dot += (double)q[(b * tq + i) * c + h * d + e] * k[(b * sk + j) * c + h * d + e];
                            scores[j] = dot * scale;
                            max = Math.Max(max, scores[j]);
                        }
                        for (int j = 0; j < sk; j++) total += scores[j] = Math.Exp(scores[j] - max);
                        for (int e = 0; e < d; e++)
                        {
                            double acc = 0;
                            for (int j = 0; j < sk; j++) acc += scores[j] * v[(b * sk + j) * c + h * d + e];
                            expected[(b * tq + i) * c + h * d + e] = acc / total;
                        }
                    }
            using var dq = t.Accelerator.Allocate1D(q);
            using var dk = t.Accelerator.Allocate1D(k);
            using var dv = t.Accelerator.Allocate1D(v);
            using var dout = t.Accelerator.Allocate1D<float>(expected.Length);
            t.Row($"{batch}×{heads}h T{tq} S{sk} d{d}", expected, dout, 4.0 * batch * tq * sk * c,
            [
                ("Rowwise/8", () => chunked.Run(t.Stream, dq.View, dk.View, dv.View, dout.View, batch, tq, sk, c, heads, scale, AttentionAlgorithm.Rowwise)),
                ("Rowwise/1024", () => standard.Run(t.Stream, dq.View, dk.View, dv.View, dout.View, batch, tq, sk, c, heads, scale, AttentionAlgorithm.Rowwise)),
                ("Tiled", () => standard.Run(t.Stream, dq.View, dk.View, dv.View, dout.View, batch, tq, sk, c, heads, scale, AttentionAlgorithm.Tiled)),
            ]);
        }
    }

    private static void GroupNorm(Table t, bool big)
    {
        var kernels = new GroupNormKernels(t.Accelerator);
        // n, c, spatial, groups
        int[][] shapes = big ? [[16, 128, 1024, 32], [8, 256, 16, 32], [4, 64, 4096, 2], [2, 9, 513, 9]] : [[1, 3, 35, 1], [2, 4, 99, 2], [1, 2, 529, 1]];
        int limit = Math.Min(t.Accelerator.MaxNumThreadsPerGroup, 1024);
        var threadCounts = new[] { 32, 64, 128, 256, 512, 1024 }.Where(n => n <= limit && n % t.Accelerator.WarpSize == 0).ToArray();
        foreach (var s in shapes)
        {
            int n = s[0], c = s[1], spatial = s[2], groups = s[3], cpg = c / groups;
            var x = Noise(n * c * spatial, 8).Select((value, i) => value + (i % 7 == 0 ? 3f : 0f)).ToArray();
            var gamma = Noise(c, 9);
            var beta = Noise(c, 10);
            var expected = new double[x.Length];
            for (int b = 0; b < n * groups; b++)
            {
                long start = (long)b * cpg * spatial, len = (long)cpg * spatial;
                double mean = 0, variance = 0;
                for (long i = 0; i < len; i++) mean += x[start + i];
                mean /= len;
                for (long i = 0; i < len; i++) variance += (x[start + i] - mean) * (x[start + i] - mean);
                double rstd = 1 / Math.Sqrt(variance / len + 1e-5);
                for (long i = 0; i < len; i++)
                {
                    int ch = b % groups * cpg + (int)(i / spatial);
                    expected[start + i] = (x[start + i] - mean) * rstd * gamma[ch] + beta[ch];
                }
            }
            using var dx = t.Accelerator.Allocate1D(x);
            using var dg = t.Accelerator.Allocate1D(gamma);
            using var db = t.Accelerator.Allocate1D(beta);
            using var dy = t.Accelerator.Allocate1D<float>(x.Length);
            t.Row($"{n}×{c}×{spatial} / {groups}", expected, dy, 0,
                threadCounts.Select(th => ($"{th} threads", (Action)(() => kernels.Run(t.Stream, dx.View, dg.View, db.View, dy.View, c, spatial, groups, 1e-5f, Activation.Identity, th)))));
        }
    }

    // ---------------------------------------------------------------- table

    private static float[] Noise(long n, int seed)
    {
        var rng = new Random(seed);
        var a = new float[n];
        for (long i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1);
        return a;
    }

    /// <summary>Rows of versions: each checked once against the reference, then timed.</summary>
    private sealed class Table(IlgpuBackend backend, int reps)
    {
        // fp32 sums against a double reference: ~√K·2⁻²⁴ typical, K·2⁻²⁴ worst for K up to a few thousand terms.
        private const double Tolerance = 1e-4;
        // TF32 versions: each product moves by ≤ 2⁻¹⁰ of its size, so the sum by ≤ 2⁻¹⁰·Σ|a·b|; with uniform(−1, 1)
        // operands Σ|a·b| ≈ K/4 while the largest output is ≈ 3·√(K/9), ≤ 12× smaller at the K here (≤ 2,304), and
        // the rounding errors have random signs, so the relative error stays far below 2⁻¹⁰·12 ≈ 1.2e-2.
        private const double Tf32Tolerance = 1e-2;
        // fp16 rounds to the same 11 significant bits as TF32 (the operands here are far inside its range): the same
        // bound. bf16 keeps 8, each product moving by ≤ 2⁻⁷: the same argument gives ≤ 2⁻⁷·12 ≈ 9.4e-2.
        private const double Bf16Tolerance = 1e-1;

        private static double ToleranceOf(string version) => version switch
        {
            // The TF32 launch shapes (128 tiles, split-K, the policy's choice) are named after the version they launch.
            _ when version.StartsWith(Tf32Version, StringComparison.Ordinal) => Tf32Tolerance,
            Fp16Version or Fp16LdMatrixVersion or Fp16PipelinedVersion => Tf32Tolerance,
            Bf16Version => Bf16Tolerance,
            _ => Tolerance,
        };
        private readonly List<string> _lines = [];
        private int _failed;

        public Accelerator Accelerator => backend.Accelerator;
        public int Multiprocessors => backend.Multiprocessors;
        public AcceleratorStream Stream => backend.Stream;

        public void Row(string shape, double[] expected, MemoryBuffer1D<float, Stride1D.Dense> output, double flops, IEnumerable<(string Version, Action Launch)> versions)
        {
            double scale = expected.Max(Math.Abs);
            var cells = new List<string>();
            foreach (var (version, launch) in versions)
            {
                output.View.MemSet(Stream, 0xFF); // NaN: every output must be written
                launch();
                Stream.Synchronize();
                var got = output.GetAsArray1D();
                double error = 0;
                for (int i = 0; i < got.Length; i++) error = Math.Max(error, float.IsFinite(got[i]) ? Math.Abs(got[i] - expected[i]) : double.PositiveInfinity);
                error /= Math.Max(scale, 1e-30);
                bool ok = error <= ToleranceOf(version);
                if (!ok) _failed++;
                var sw = Stopwatch.StartNew();
                for (int r = 0; r < reps; r++) launch();
                Stream.Synchronize();
                double ms = sw.Elapsed.TotalMilliseconds / reps;
                string rate = flops > 0 ? $", {flops / ms / 1e6:G3} GFLOP/s" : "";
                cells.Add($"{version}: {ms:F3} ms{rate}, error {error:E1}{(ok ? "" : " FAILS")}");
            }
            _lines.Add($"| {shape} | {string.Join(" | ", cells)} |");
            Console.WriteLine(_lines[^1]);
        }

        public int Print()
        {
            Console.WriteLine(_failed == 0 ? $"every version agrees with the reference (error ≤ {Tolerance:E0}; TF32 and fp16 versions ≤ {Tf32Tolerance:E0}; bf16 ≤ {Bf16Tolerance:E0})" : $"{_failed} version(s) disagree with the reference");
            return _failed == 0 ? 0 : 1;
        }
    }
}
