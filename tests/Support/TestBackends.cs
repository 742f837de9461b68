using DiffusionKernels.Runtime;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Support;

/// <summary>Backends shared by the whole test run (the ILGPU ones are expensive to create).</summary>
[SetUpFixture]
public sealed class TestBackends
{
    /// <summary>
    /// Environment variable that turns a missing CUDA device into a failure of every <c>Gpu</c> test, so a GPU run
    /// cannot pass by skipping (<c>tools/gpu/run.sh</c> sets it).
    /// </summary>
    public const string RequireCudaVariable = "DK_REQUIRE_CUDA";

    private static CpuBackend? _cpu;
    private static IlgpuBackend? _ilgpuCpu;
    private static IlgpuBackend? _cuda;
    private static string? _cudaMissing;
    private static readonly object Gate = new();

    /// <summary>The managed CPU backend.</summary>
    public static CpuBackend Cpu { get { lock (Gate) return _cpu ??= new CpuBackend(); } }

    /// <summary>ILGPU's CPU accelerator: the GPU kernels, emulated. Keep shapes tiny.</summary>
    public static IlgpuBackend IlgpuCpu { get { lock (Gate) return _ilgpuCpu ??= IlgpuBackend.CreateCpuEmulator(); } }

    /// <summary>True when <see cref="RequireCudaVariable"/> is set to 1.</summary>
    public static bool CudaRequired => Environment.GetEnvironmentVariable(RequireCudaVariable) == "1";

    /// <summary>
    /// The first CUDA device. Without one the test is ignored, or fails when <see cref="RequireCudaVariable"/> is 1
    /// (the message says why no device was found).
    /// </summary>
    public static IlgpuBackend Cuda
    {
        get
        {
            lock (Gate)
            {
                if (_cuda is null && _cudaMissing is null)
                {
                    try
                    {
                        _cuda = IlgpuBackend.CreateCuda(0);
                    }
                    catch (Exception e) when (e is DeviceNotAvailableException or DllNotFoundException or TypeInitializationException or InvalidOperationException or NotSupportedException)
                    {
                        _cudaMissing = $"{e.GetType().Name}: {e.Message}";
                    }
                }
                if (_cuda is not null) return _cuda;
                if (CudaRequired) Assert.Fail($"{RequireCudaVariable}=1 but no CUDA device: {_cudaMissing}");
                Assert.Ignore($"no CUDA device on this machine ({_cudaMissing})");
                return null!;
            }
        }
    }

    /// <summary>The backend of a test-case device name: <c>cpu</c>, <c>ilgpu-cpu</c> or <c>cuda</c>.</summary>
    public static Backend Get(string device) => device switch
    {
        "cpu" => Cpu,
        "ilgpu-cpu" => IlgpuCpu,
        "cuda" => Cuda,
        _ => throw new ArgumentException($"unknown test device '{device}'"),
    };

    /// <summary>The ILGPU backend of <c>ilgpu-cpu</c> or <c>cuda</c>.</summary>
    public static IlgpuBackend Ilgpu(string device) => (IlgpuBackend)Get(device);

    [OneTimeTearDown]
    public void DisposeAll()
    {
        _ilgpuCpu?.Dispose();
        _cuda?.Dispose();
        _cpu?.Dispose();
    }
}
