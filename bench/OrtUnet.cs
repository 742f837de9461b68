using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace DiffusionKernels.Bench;

/// <summary>ONNX Runtime as every comparison here runs it, and the U-Net's two inputs in its terms.</summary>
internal static class OrtUnet
{
    /// <summary>
    /// All graph optimizations, sequential execution, <paramref name="threads"/> intra-op threads (its best CPU setting
    /// for one model at a time); with <paramref name="profilePrefix"/>, its per-node profiler writes there.
    /// </summary>
    public static SessionOptions Options(int threads, string? profilePrefix = null)
    {
        var options = new SessionOptions
        {
            IntraOpNumThreads = threads,
            InterOpNumThreads = 1,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        };
        if (profilePrefix is not null)
        {
            options.EnableProfiling = true;
            options.ProfileOutputPathPrefix = profilePrefix;
        }
        return options;
    }

    /// <summary>The exported U-Net's inputs: <c>sample</c> [batch, channels, size, size] and <c>timestep</c> [batch].</summary>
    public static NamedOnnxValue[] Inputs(float[] sample, float[] timesteps, int channels, int size) =>
    [
        NamedOnnxValue.CreateFromTensor("sample", new DenseTensor<float>(sample, [timesteps.Length, channels, size, size])),
        NamedOnnxValue.CreateFromTensor("timestep", new DenseTensor<float>(timesteps, [timesteps.Length])),
    ];
}
