using DiffusionKernels;

// Four synthetic head MRI slices from the bundled model: 20 DPM-Solver++(2M) steps, seed 42, on the best device.
using var pipeline = DiffusionPipeline.OpenBundled(device: "auto");
using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(10));
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };

var request = new GenerationRequest
{
    Sampler = "dpmpp_2m",
    Steps = 20,
    NumSamples = 4,
    Seed = 42,
    // After every step: σ, the timestep, x and x̂₀ (device tensors, or host copies); it may edit x or stop the run.
    OnStep = step =>
    {
        if (step.Step % 5 != 4) return;
        float[] x0 = step.CopyDenoised()!;
        Console.WriteLine($"step {step.Step + 1}/{step.Steps}: σ {step.Sigma:G3}, t {step.Timestep:F0}, mean x̂₀ {x0.Average():F3}");
    },
};
var progress = new Progress<GenerationProgress>(p => { if (p.StepsDone == p.TotalSteps) Console.WriteLine("sampling done"); });
GenerationResult result = await pipeline.GenerateAsync(request, progress, cancel.Token);

string output = args.Length > 0 ? args[0] : "samples";
Directory.CreateDirectory(output);
result.Save(Path.Combine(output, "samples.npy"));
result.Save(Path.Combine(output, "grid.png"));
Console.WriteLine($"{result.Count} samples [{string.Join(", ", result.Shape[1..])}] with {result.Sampler}, "
                  + $"NFE {result.Evaluations}, {result.Elapsed.TotalSeconds:F1} s on {result.Device}");
