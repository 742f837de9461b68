using DiffusionKernels.Runtime;

namespace DiffusionKernels.Bench;

/// <summary>Devices worth benchmarking here: the CPU backend always, CUDA where present (the emulator is far too slow).</summary>
public static class BenchDevices
{
    public static IEnumerable<string> Available()
    {
        yield return "cpu";
        if (Devices.CudaDevices().Count > 0) yield return "cuda";
    }
}
