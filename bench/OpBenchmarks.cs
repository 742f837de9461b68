using BenchmarkDotNet.Attributes;
using DiffusionKernels.Runtime;

namespace DiffusionKernels.Bench;

/// <summary>BenchmarkDotNet over every <see cref="OpCase"/>: the CPU twin vs the GPU kernel.</summary>
[MemoryDiagnoser]
public class OpBenchmarks
{
    private Backend _backend = null!;
    private OpCase _case = null!;

    public static IEnumerable<string> Cases() => OpCase.All().Select(c => c.Name);
    public static IEnumerable<string> DeviceNames() => BenchDevices.Available();

    [ParamsSource(nameof(Cases))] public string Case { get; set; } = "";
    [ParamsSource(nameof(DeviceNames))] public string Device { get; set; } = "cpu";

    [GlobalSetup]
    public void Setup()
    {
        _backend = Devices.Create(Device);
        _case = OpCase.All().Single(c => c.Name == Case);
        _case.Setup(_backend);
    }

    [Benchmark]
    public void Op()
    {
        _case.Run();
        _backend.Synchronize();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _case.Dispose();
        _backend.Dispose();
    }
}
