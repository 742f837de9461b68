using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using DiffusionKernels.Medical.Baselines;
using DiffusionKernels.Medical.Inverse;
using DiffusionKernels.Medical.Metrics;
using DiffusionKernels.Medical.Operators;
using DiffusionKernels.Medical.Phantoms;
using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Sampling;
using DiffusionKernels.Samplers.Solvers;

namespace DiffusionKernels.Cli.Commands;

/// <summary>
/// <c>dk medical-eval</c>: the evaluation table of docs/medical.md on held-out head phantoms (indices from 2·10⁹, never
/// seen in training): MRI 4×/8× (diffusion DDNM vs zero-filled vs TV), inpainting a 25 % centred box (RePaint vs the
/// masked image vs TV), ×4 super-resolution (DDNM vs bicubic vs TV), denoising σ = 0.1 (SDEdit vs a Gaussian filter),
/// and anomaly detection on lesion phantoms (AnoDDPM pixel AUROC and Dice at the 95th percentile). Mean ± std over images.
/// </summary>
public static class MedicalEvalCommand
{
    /// <summary>First phantom index of the held-out set.</summary>
    public const long HeldOutFirstIndex = 2_000_000_000;

    public static Command Create()
    {
        var model = new Option<string?>("--model") { Description = $"A diffusers UNet2DModel folder (default: the bundled {SampleCommand.BundledModel})" };
        var n = new Option<int>("--n") { Description = "Held-out phantoms per task", DefaultValueFactory = _ => 32 };
        var sampler = new Option<string>("--sampler") { Description = "Solver (see dk samplers)", DefaultValueFactory = _ => "ddpm" };
        var steps = new Option<int>("--steps") { Description = "Solver steps", DefaultValueFactory = _ => 50 };
        var tvIterations = new Option<int>("--tv-iterations") { Description = "Total-variation baseline iterations (0: skip TV)", DefaultValueFactory = _ => 1000 };
        var tasks = new Option<string>("--tasks") { Description = "Comma-separated subset of mri4,mri8,inpaint,superres,denoise,anomaly", DefaultValueFactory = _ => "mri4,mri8,inpaint,superres,denoise,anomaly" };
        var batch = new Option<int>("--batch-size") { Description = "Images per network call", DefaultValueFactory = _ => 8 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of masks, noise and sampler", DefaultValueFactory = _ => 0 };
        var output = new Option<string?>("--output") { Description = "Also write the markdown table to this file" };
        var device = CommonOptions.Device();
        var command = new Command("medical-eval", "PSNR/SSIM and AUROC/Dice table of the diffusion-prior solvers against classical baselines on held-out phantoms")
            { model, n, sampler, steps, tvIterations, tasks, batch, seed, output, device };
        command.SetAction(r => Run(r.GetValue(model), r.GetValue(n), r.GetValue(sampler)!, r.GetValue(steps), r.GetValue(tvIterations), r.GetValue(tasks)!,
            r.GetValue(batch), r.GetValue(seed), r.GetValue(output), r.GetValue(device)!));
        return command;
    }

    private static readonly string[] AllTasks = ["mri4", "mri8", "inpaint", "superres", "denoise", "anomaly"];

    public static int Run(string? modelPath, int n, string samplerName, int steps, int tvIterations, string taskList, int batchSize, ulong seed, string? output, string device)
    {
        CommonOptions.AtLeast("--n", n, 1);
        CommonOptions.AtLeast("--steps", steps, 1);
        CommonOptions.AtLeast("--batch-size", batchSize, 1);
        if (tvIterations < 0) throw new ArgumentException($"--tv-iterations must be ≥ 0, found {tvIterations}");
        var tasks = taskList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        foreach (var t in tasks) if (!AllTasks.Contains(t)) throw new ArgumentException($"--tasks: unknown task '{t}'; known: {string.Join(", ", AllTasks)}");
        var solver = SamplerRegistry.Get(samplerName);
        if (output is not null && !Directory.Exists(Path.GetDirectoryName(Path.GetFullPath(output)))) throw new DirectoryNotFoundException($"--output: the folder of {output} does not exist");
        using var backend = Devices.Create(device);
        using var cancel = ConsoleCancellation.Install();
        using var model = DiffusionModel.Open(modelPath ?? SampleCommand.FindBundledModel(), backend, Math.Min(batchSize, n));
        int c = model.SampleShape[0], h = model.SampleShape[1], w = model.SampleShape[2];
        if (c != 1) throw new ArgumentException($"medical-eval: the phantom tasks need a 1-channel model, found {c} channels");
        var (images, _) = HeadPhantom.GenerateBatch(n, h, 0, lesions: false, firstIndex: HeldOutFirstIndex);
        var x0 = MedicalInputs.ToModel(images);
        int[] shape = [n, 1, h, w];
        var options = new SamplerOptions { Seed = seed, Cancellation = cancel.Token };
        var sigmas = model.Sigmas("karras", steps);
        var rows = new List<string>();
        var clock = Stopwatch.StartNew();

        void Row(string task, string method, float[] estimate, int nfe)
        {
            var q = MedicalInputs.Quality(images, estimate, n, 1, h, w);
            string line = string.Create(CultureInfo.InvariantCulture, $"| {task} | {method} | {q.Psnr:F2} ± {q.PsnrStd:F2} | {q.Ssim:F3} ± {q.SsimStd:F3} | {(nfe > 0 ? nfe.ToString(CultureInfo.InvariantCulture) : "–")} |");
            rows.Add(line);
            Console.WriteLine(line);
        }

        float[] Tv(ILinearOperator op, float[] y01, double lambda, double? norm)
        {
            using var host = new HostLinearOperator(op, backend, new Shape(shape));
            return TotalVariation.Reconstruct(host.Forward, host.Adjoint, y01, n, h, w, new TvOptions { Lambda = lambda, MaxIterations = tvIterations, Tolerance = 0, OperatorNorm = norm });
        }

        float[] Diffusion(Func<float[]> run, out int nfe)
        {
            int before = model.Denoiser.Evaluations;
            var r = MedicalInputs.FromModel(run());
            nfe = (model.Denoiser.Evaluations - before) / ((n + model.Batch - 1) / model.Batch);
            return r;
        }

        Console.WriteLine($"device {backend.Name} | {n} held-out phantoms (from index {HeldOutFirstIndex}) | sampler {solver.Name}, {steps} steps");
        Console.WriteLine("| task | method | PSNR (dB) | SSIM | NFE |");
        foreach (var task in tasks)
        {
            switch (task)
            {
                case "mri4" or "mri8":
                {
                    int acc = task == "mri4" ? 4 : 8;
                    string name = $"MRI {acc}× (random rows)";
                    using var op = new CartesianMri(backend, MriMasks.Random(h, w, acc, seed), new Shape(h, w));
                    var y = Forward(backend, op, x0, shape);
                    var y01 = Forward(backend, op, images, shape);
                    Row(name, "zero-filled", MedicalInputs.FromModel(Forward(backend, op.Adjoint, y, op.MeasurementShape(new Shape(shape)), shape)), 0);
                    if (tvIterations > 0) Row(name, "TV", Clamp01(Tv(op, y01, 3e-3, 1)), 0);
                    Row(name, "diffusion (DDNM)", Diffusion(() => DiffusionPrior.Reconstruct(model, op, y, n, 0, solver, sigmas, options), out int nfe), nfe);
                    break;
                }
                case "inpaint":
                {
                    string name = "inpainting (25 % centre box)";
                    var masks = Measurements.CentredBoxMask(n, h, w, 0.25);
                    using var op = new MaskOperator(backend, masks, new Shape(n, 1, h, w));
                    var y = Forward(backend, op, x0, shape);
                    Row(name, "masked", MedicalInputs.FromModel(y), 0);
                    if (tvIterations > 0) Row(name, "TV", Clamp01(Tv(op, Forward(backend, op, images, shape), 3e-2, 1)), 0);
                    var repaint = new RePaint(10, 2);
                    Row(name, "diffusion (RePaint j=10 r=2)", Diffusion(() => DiffusionPrior.Inpaint(model, y, masks, n, repaint, sigmas, options), out int nfe), nfe);
                    break;
                }
                case "superres":
                {
                    string name = "super-resolution ×4";
                    using var op = new BoxDownsample(backend, 4);
                    var y = Forward(backend, op, x0, shape);
                    var y01 = Forward(backend, op, images, shape);
                    Row(name, "bicubic", Clamp01(Bicubic.Upsample(y01, n, h / 4, w / 4, 4)), 0);
                    if (tvIterations > 0) Row(name, "TV", Clamp01(Tv(op, y01, 1e-3, 0.25)), 0);
                    Row(name, "diffusion (DDNM)", Diffusion(() => DiffusionPrior.Reconstruct(model, op, y, n, 0, solver, sigmas, options), out int nfe), nfe);
                    break;
                }
                case "denoise":
                {
                    string name = "denoising σ = 0.1";
                    var noise = new float[images.Length];
                    using (var nt = backend.Allocate(new Shape(shape))) { backend.RandomNormal(nt, seed ^ 0x4D45415355524Eul); noise = nt.ToArray(); }
                    var noisy01 = images.Select((v, i) => v + 0.1f * noise[i]).ToArray();
                    Row(name, "noisy input", noisy01, 0);
                    Row(name, "Gaussian filter σ=1px", GaussianFilter.Apply(noisy01, n, h, w, 1.0), 0);
                    Row(name, "diffusion (SDEdit)", Diffusion(() => DiffusionPrior.Denoise(model, MedicalInputs.ToModel(noisy01), n, 0.2, steps, solver, options), out int nfe), nfe);
                    break;
                }
                case "anomaly":
                {
                    var (lesioned, truth) = HeadPhantom.GenerateBatch(n, h, 0, lesions: true, firstIndex: HeldOutFirstIndex);
                    double sigma = AnomalyDetector.SigmaAt(model.Schedule.CreateSchedule(), 250);
                    var recon = Diffusion(() => DiffusionPrior.AnomalyReconstruct(model, MedicalInputs.ToModel(lesioned), n, sigma, steps, solver, options), out int nfe);
                    var map = AnomalyDetector.Map(lesioned, recon, n, 1, h, w, 1.0);
                    var aurocs = new double[n];
                    var dices = new double[n];
                    var seg = AnomalyDetector.Segment(map, 95);
                    int plane = h * w;
                    for (int k = 0; k < n; k++)
                    {
                        aurocs[k] = Auroc.Compute(map.AsSpan(k * plane, plane), truth.AsSpan(k * plane, plane));
                        dices[k] = Dice.Compute(truth.AsSpan(k * plane, plane), seg.AsSpan(k * plane, plane));
                    }
                    string line = string.Create(CultureInfo.InvariantCulture,
                        $"| anomaly (AnoDDPM, t = 250, Gaussian) | pixel AUROC {Auroc.Compute(map, truth!):F3} pooled, {aurocs.Average():F3} ± {Std(aurocs):F3} per image | Dice@p95 {Dice.Compute(truth!, seg):F3} pooled, {dices.Average():F3} ± {Std(dices):F3} per image | | {nfe} |");
                    rows.Add(line);
                    Console.WriteLine(line);
                    break;
                }
            }
        }
        Console.WriteLine($"done in {clock.Elapsed.TotalSeconds:F0} s");
        if (output is not null)
        {
            var sb = new StringBuilder();
            sb.AppendLine(CultureInfo.InvariantCulture, $"{n} held-out phantoms (indices from {HeldOutFirstIndex}), sampler {solver.Name}, {steps} steps, device {backend.Name}, seed {seed}");
            sb.AppendLine();
            sb.AppendLine("| task | method | PSNR (dB) | SSIM | NFE |");
            sb.AppendLine("|---|---|---:|---:|---:|");
            foreach (var r in rows) sb.AppendLine(r);
            File.WriteAllText(output, sb.ToString());
            Console.WriteLine($"wrote {output}");
        }
        return 0;
    }

    private static float[] Forward(Backend b, ILinearOperator op, float[] x, int[] shape) =>
        Forward(b, op.Forward, x, new Shape(shape), op.MeasurementShape(new Shape(shape)));

    private static float[] Forward(Backend b, Action<Tensor, Tensor> map, float[] input, Shape inShape, Shape outShape)
    {
        using var i = b.Upload(input, inShape);
        using var o = b.Allocate(outShape);
        map(i, o);
        return o.ToArray();
    }

    private static float[] Forward(Backend b, Action<Tensor, Tensor> map, float[] input, Shape inShape, int[] outShape) =>
        Forward(b, map, input, inShape, new Shape(outShape));

    private static float[] Clamp01(float[] x) => x.Select(v => Math.Clamp(v, 0f, 1f)).ToArray();

    private static double Std(double[] v)
    {
        double m = v.Average();
        return v.Length < 2 ? 0 : Math.Sqrt(v.Sum(x => (x - m) * (x - m)) / (v.Length - 1));
    }
}
