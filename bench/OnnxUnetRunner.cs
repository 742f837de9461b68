using System.Diagnostics;
using Microsoft.ML.OnnxRuntime;

namespace DiffusionKernels.Bench;

/// <summary>
/// Times a U-Net exported to ONNX (tools/bench/torch_unet_cpu.py) in ONNX Runtime on the CPU, the engine behind
/// .NET diffusion stacks: <c>dotnet run -c Release --project bench -- onnx model.onnx [--batches 1,16] [--threads 2] [--iters 10]</c>.
/// </summary>
public static class OnnxUnetRunner
{
    public static void Run(string modelPath, IReadOnlyList<int> batches, int threads, int iters)
    {
        using var options = OrtUnet.Options(threads);
        using var session = new InferenceSession(modelPath, options);
        var rng = new Random(0);
        foreach (var b in batches)
        {
            var inputs = OrtUnet.Inputs(Enumerable.Range(0, b * 3 * 32 * 32).Select(_ => rng.NextSingle()).ToArray(),
                Enumerable.Repeat(500f, b).ToArray(), channels: 3, size: 32);
            for (int i = 0; i < 2; i++) session.Run(inputs).Dispose();
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < iters; i++) session.Run(inputs).Dispose();
            double ms = sw.Elapsed.TotalMilliseconds / iters;
            Console.WriteLine($"onnxruntime cpu batch {b}: {ms:F2} ms/forward, {b * 1000 / ms:F2} images/s");
        }
    }
}
