using System.CommandLine;
using System.Diagnostics;
using DiffusionKernels.Medical.Baselines;
using DiffusionKernels.Medical.Inverse;
using DiffusionKernels.Medical.Operators;
using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.IO;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Sampling;
using DiffusionKernels.Samplers.Solvers;

namespace DiffusionKernels.Cli.Commands;

/// <summary>
/// <c>dk reconstruct</c>: solves an inverse problem with the diffusion model as the prior. The input is clean images
/// [N, 1, H, W] in [0, 1]; the command simulates the measurement from them (MRI k-space under a Cartesian mask, a box
/// mask, a box downsample, or Gaussian noise, plus optional measurement noise), reconstructs, and compares with the
/// naive answer (zero-filled, masked, bicubic, the noisy image / Gaussian filter) by PSNR/SSIM against the input.
/// </summary>
public static class ReconstructCommand
{
    public static readonly string[] Tasks = ["mri", "inpaint", "superres", "denoise"];
    public static readonly string[] Methods = ["auto", "ddnm", "repaint", "sdedit"];

    public static Command Create()
    {
        var task = new Option<string>("--task") { Description = "mri, inpaint, superres or denoise", Required = true };
        var model = new Option<string?>("--model") { Description = $"A diffusers UNet2DModel folder (default: the bundled {SampleCommand.BundledModel})" };
        var input = new Option<string>("--input") { Description = "Clean images [N, 1, H, W] in [0, 1] (.npy); the measurement is simulated from them", Required = true };
        var mask = new Option<string?>("--mask") { Description = "0/1 mask .npy: k-space mask [H, W] for mri, or known-pixel mask [H, W] / [N, 1, H, W] for inpaint (1 = known)" };
        var acceleration = new Option<int>("--acceleration") { Description = "MRI acceleration (4 or 8) when no --mask is given", DefaultValueFactory = _ => 4 };
        var maskType = new Option<string>("--mask-type") { Description = "MRI mask when no --mask: random or equispaced rows", DefaultValueFactory = _ => "random" };
        var box = new Option<double>("--box") { Description = "Inpainting without --mask: fraction of the image area hidden by a centred square", DefaultValueFactory = _ => 0.25 };
        var factor = new Option<int>("--factor") { Description = "Super-resolution factor (box downsample)", DefaultValueFactory = _ => 4 };
        var noise = new Option<double?>("--noise-sigma") { Description = "Measurement noise std in [0, 1] image units (default 0.1 for denoise, else 0)" };
        var method = new Option<string>("--method") { Description = "auto (repaint for inpaint, sdedit for denoise, else ddnm), ddnm, repaint or sdedit", DefaultValueFactory = _ => "auto" };
        var sampler = new Option<string>("--sampler") { Description = "Solver (see dk samplers)", DefaultValueFactory = _ => "ddpm" };
        var steps = new Option<int>("--steps") { Description = "Solver steps", DefaultValueFactory = _ => 50 };
        var jumpLength = new Option<int>("--jump-length") { Description = "RePaint: steps per resampling jump", DefaultValueFactory = _ => 10 };
        var jumpCount = new Option<int>("--jump-count") { Description = "RePaint: passes over each jump (1 = no resampling)", DefaultValueFactory = _ => 2 };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the mask, the measurement noise and the sampler", DefaultValueFactory = _ => 0 };
        var batch = new Option<int>("--batch-size") { Description = "Images per network call", DefaultValueFactory = _ => 8 };
        var output = new Option<string>("--output") { Description = "Output folder", DefaultValueFactory = _ => "recon" };
        var force = new Option<bool>("--force") { Description = "Replace an existing output folder" };
        var device = CommonOptions.Device();
        var command = new Command("reconstruct", "Reconstruct images from simulated measurements with the diffusion model as prior (MRI, inpainting, super-resolution, denoising)")
            { task, model, input, mask, acceleration, maskType, box, factor, noise, method, sampler, steps, jumpLength, jumpCount, seed, batch, output, force, device };
        command.SetAction(r => Run(new Request(r.GetValue(task)!, r.GetValue(model), r.GetValue(input)!, r.GetValue(mask), r.GetValue(acceleration),
            r.GetValue(maskType)!, r.GetValue(box), r.GetValue(factor), r.GetValue(noise), r.GetValue(method)!, r.GetValue(sampler)!, r.GetValue(steps),
            r.GetValue(jumpLength), r.GetValue(jumpCount), r.GetValue(seed), r.GetValue(batch), r.GetValue(output)!, r.GetValue(force), r.GetValue(device)!)));
        return command;
    }

    public sealed record Request(string Task, string? Model, string Input, string? Mask, int Acceleration, string MaskType, double Box, int Factor,
        double? NoiseSigma, string Method, string Sampler, int Steps, int JumpLength, int JumpCount, ulong Seed, int Batch, string Output, bool Force, string Device);

    public static int Run(Request q)
    {
        if (!Tasks.Contains(q.Task)) throw new ArgumentException($"--task must be one of {string.Join(", ", Tasks)}, found '{q.Task}'");
        if (!Methods.Contains(q.Method)) throw new ArgumentException($"--method must be one of {string.Join(", ", Methods)}, found '{q.Method}'");
        string method = q.Method != "auto" ? q.Method : q.Task switch { "inpaint" => "repaint", "denoise" => "sdedit", _ => "ddnm" };
        if (method == "repaint" && q.Task != "inpaint") throw new ArgumentException($"--method repaint is for --task inpaint, not {q.Task}");
        if (method == "sdedit" && q.Task != "denoise") throw new ArgumentException($"--method sdedit is for --task denoise, not {q.Task}");
        var solver = SamplerRegistry.Get(q.Sampler);
        CommonOptions.AtLeast("--steps", q.Steps, 1);
        CommonOptions.AtLeast("--batch-size", q.Batch, 1);
        double noise = q.NoiseSigma ?? (q.Task == "denoise" ? 0.1 : 0);
        if (!(noise >= 0) || !double.IsFinite(noise)) throw new ArgumentException($"--noise-sigma must be ≥ 0, found {noise}");
        if (q.Task == "denoise" && noise == 0) throw new ArgumentException("--task denoise needs --noise-sigma > 0");
        if (q.Task == "mri" && q.Mask is null && q.Acceleration is not (4 or 8)) throw new ArgumentException($"--acceleration must be 4 or 8, found {q.Acceleration}");
        if (q.Task == "mri" && q.MaskType is not ("random" or "equispaced")) throw new ArgumentException($"--mask-type must be random or equispaced, found '{q.MaskType}'");
        if (q.Task == "inpaint" && !(q.Box > 0 && q.Box < 1)) throw new ArgumentException($"--box must be in (0, 1), found {q.Box}");
        if (q.Task == "superres" && q.Factor < 2) throw new ArgumentException($"--factor must be ≥ 2, found {q.Factor}");
        if (q.Mask is not null && q.Task is not ("mri" or "inpaint")) throw new ArgumentException($"--mask applies to --task mri or inpaint, not {q.Task}");
        if (method == "repaint") { CommonOptions.AtLeast("--jump-length", q.JumpLength, 1); CommonOptions.AtLeast("--jump-count", q.JumpCount, 1); }
        var output = OutputFolder.Check(q.Output, q.Force);
        var modelPath = q.Model ?? SampleCommand.FindBundledModel();

        using var backend = Devices.Create(q.Device);
        using var cancel = ConsoleCancellation.Install();
        using var model = DiffusionModel.Open(modelPath, backend, Math.Min(q.Batch, MedicalInputs.Count(q.Input)));
        var sampleShape = model.SampleShape;
        var (images, count) = MedicalInputs.Images(q.Input, sampleShape);
        int c = sampleShape[0], h = sampleShape[1], w = sampleShape[2];
        if (q.Task == "superres" && (h % q.Factor != 0 || w % q.Factor != 0)) throw new ArgumentException($"--factor {q.Factor} must divide the image size {h}×{w}");
        var options = new SamplerOptions { Seed = q.Seed, Cancellation = cancel.Token };
        int[] shape = [count, c, h, w];
        var x0 = MedicalInputs.ToModel(images);
        double sigmaY = 2 * noise; // model units span 2 for 1 in image units

        float[] naive, recon, measurement;
        int[] measurementShape;
        float[]? maskOut = null;
        int[]? maskShape = null;
        string naiveName;
        var clock = Stopwatch.StartNew();
        int nfe0 = model.Denoiser.Evaluations;
        switch (q.Task)
        {
            case "mri":
            {
                float[] kmask;
                if (q.Mask is not null) kmask = MedicalInputs.Masks(q.Mask, 1, h, w, "--mask");
                else kmask = q.MaskType == "random" ? MriMasks.Random(h, w, q.Acceleration, q.Seed) : MriMasks.Equispaced(h, w, q.Acceleration, q.Seed);
                (maskOut, maskShape) = (kmask, [h, w]);
                using var op = new CartesianMri(backend, kmask, new Shape(h, w));
                (measurement, measurementShape) = Measure(backend, op, x0, shape, sigmaY, q.Seed, maskForNoise: op.Mask);
                naive = MedicalInputs.FromModel(Apply(backend, op.Adjoint, measurement, measurementShape, shape));
                naiveName = "zero-filled";
                recon = RunDdnm(model, op, measurement, count, sigmaY, solver, q.Steps, options);
                break;
            }
            case "superres":
            {
                using var op = new BoxDownsample(backend, q.Factor);
                (measurement, measurementShape) = Measure(backend, op, x0, shape, sigmaY, q.Seed);
                naive = MedicalInputs.FromModel(Bicubic.Upsample(measurement, count * c, h / q.Factor, w / q.Factor, q.Factor));
                naiveName = "bicubic";
                recon = RunDdnm(model, op, measurement, count, sigmaY, solver, q.Steps, options);
                break;
            }
            case "inpaint":
            {
                var masks = q.Mask is not null ? MedicalInputs.Masks(q.Mask, count, h, w, "--mask") : BoxMask(count, h, w, q.Box);
                (maskOut, maskShape) = (masks, [count, 1, h, w]);
                using var op = new MaskOperator(backend, masks, new Shape(count, 1, h, w));
                (measurement, measurementShape) = Measure(backend, op, x0, shape, sigmaY, q.Seed, maskForNoise: op.Mask);
                naive = MedicalInputs.FromModel(measurement);
                naiveName = "masked";
                if (method == "repaint")
                    recon = Progress(model, count, new RePaint(q.JumpLength, q.JumpCount).Evaluations(q.Steps),
                        p => DiffusionPrior.Inpaint(model, measurement, masks, count, new RePaint(q.JumpLength, q.JumpCount), model.Sigmas("karras", q.Steps), options, p));
                else
                {
                    // One operator per batch: the masks are per image.
                    recon = new float[x0.Length];
                    int per = c * h * w, plane = h * w;
                    for (int s = 0; s < count; s += model.Batch)
                    {
                        int n = Math.Min(model.Batch, count - s);
                        var bm = new float[model.Batch * plane];
                        masks.AsSpan(s * plane, n * plane).CopyTo(bm);
                        using var bop = new MaskOperator(backend, bm, new Shape(model.Batch, 1, h, w));
                        var part = RunDdnm(model, bop, measurement.AsSpan(s * per, n * per).ToArray(), n, sigmaY, solver, q.Steps, options with { Seed = q.Seed + (ulong)s });
                        part.CopyTo(recon, s * per);
                    }
                }
                break;
            }
            default:
            {
                using var op = new IdentityOperator(backend);
                (measurement, measurementShape) = Measure(backend, op, x0, shape, sigmaY, q.Seed);
                naive = GaussianFilter.Apply(MedicalInputs.FromModel(measurement), count * c, h, w, 1.0);
                naiveName = "gaussian filter σ=1px";
                recon = method == "sdedit"
                    ? Progress(model, count, q.Steps, p => DiffusionPrior.Denoise(model, measurement, count, sigmaY, q.Steps, solver, options, p))
                    : RunDdnm(model, op, measurement, count, sigmaY, solver, q.Steps, options);
                break;
            }
        }
        backend.Synchronize();
        double seconds = clock.Elapsed.TotalSeconds;
        recon = MedicalInputs.FromModel(recon);
        var error = new float[recon.Length];
        for (int i = 0; i < error.Length; i++) error[i] = Math.Abs(recon[i] - images[i]);
        var nq = MedicalInputs.Quality(images, naive, count, c, h, w);
        var rq = MedicalInputs.Quality(images, recon, count, c, h, w);
        OutputFolder.Write(output, temp =>
        {
            Npy.Write(Path.Combine(temp, "recon.npy"), recon, shape);
            Npy.Write(Path.Combine(temp, "naive.npy"), naive, shape);
            Npy.Write(Path.Combine(temp, "measurement.npy"), measurement, measurementShape);
            if (maskOut is not null) Npy.Write(Path.Combine(temp, "mask.npy"), maskOut, maskShape!);
            MedicalInputs.SavePanels(temp, "input", images, shape, 0, 1);
            MedicalInputs.SavePanels(temp, "naive", naive, shape, 0, 1);
            MedicalInputs.SavePanels(temp, "recon", recon, shape, 0, 1);
            MedicalInputs.SavePanels(temp, "error", error, shape, 0, 0.25f);
        });
        Console.WriteLine($"device {backend.Name} | task {q.Task}, method {method}, sampler {solver.Name}, {q.Steps} steps, NFE {model.Denoiser.Evaluations - nfe0} | {count} images in {seconds:F2} s");
        Console.WriteLine($"{naiveName,-24} PSNR {nq.Psnr:F2} ± {nq.PsnrStd:F2} dB  SSIM {nq.Ssim:F4} ± {nq.SsimStd:F4}");
        Console.WriteLine($"{"diffusion (" + method + ")",-24} PSNR {rq.Psnr:F2} ± {rq.PsnrStd:F2} dB  SSIM {rq.Ssim:F4} ± {rq.SsimStd:F4}");
        Console.WriteLine($"wrote {output}");
        return 0;
    }

    /// <summary>A 0/1 known-pixel mask per image: 0 inside a centred square covering <paramref name="area"/> of the image.</summary>
    public static float[] BoxMask(int count, int h, int w, double area)
    {
        int bh = Math.Max(1, (int)Math.Round(h * Math.Sqrt(area))), bw = Math.Max(1, (int)Math.Round(w * Math.Sqrt(area)));
        int top = (h - bh) / 2, left = (w - bw) / 2;
        var m = new float[count * h * w];
        Array.Fill(m, 1f);
        for (int k = 0; k < count; k++)
            for (int y = top; y < top + bh; y++)
                for (int x = left; x < left + bw; x++)
                    m[(k * h + y) * w + x] = 0f;
        return m;
    }

    /// <summary>y = A·x + σ_y·n (noise only where <paramref name="maskForNoise"/> is 1), on the host.</summary>
    private static (float[] Y, int[] Shape) Measure(Backend b, ILinearOperator op, float[] x, int[] shape, double sigmaY, ulong seed, Tensor? maskForNoise = null)
    {
        using var xt = b.Upload(x, new Shape(shape));
        var ys = op.MeasurementShape(xt.Shape);
        using var y = b.Allocate(ys);
        op.Forward(xt, y);
        if (sigmaY > 0)
        {
            using var n = b.Allocate(ys);
            b.RandomNormal(n, seed ^ 0x4D45415355524Eul);
            if (maskForNoise is not null) b.MultiplyMask(n, maskForNoise, n);
            b.LinearCombination(y, [y, n], [1f, (float)sigmaY]);
        }
        return (y.ToArray(), ys.ToArray());
    }

    private static float[] Apply(Backend b, Action<Tensor, Tensor> map, float[] input, int[] inShape, int[] outShape)
    {
        using var i = b.Upload(input, new Shape(inShape));
        using var o = b.Allocate(new Shape(outShape));
        map(i, o);
        return o.ToArray();
    }

    private static float[] RunDdnm(DiffusionModel model, ILinearOperator op, float[] measurement, int count, double sigmaY, Solver solver, int steps, SamplerOptions options) =>
        Progress(model, count, steps, p => DiffusionPrior.Reconstruct(model, op, measurement, count, sigmaY, solver, model.Sigmas("karras", steps), options, p));

    private static float[] Progress(DiffusionModel model, int count, int stepsPerBatch, Func<Action<RunProgress>, float[]> work) =>
        StepProgress.Run("reconstructing", (count + model.Batch - 1) / model.Batch * stepsPerBatch, work);
}
