using DiffusionKernels.Runtime;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Support;

/// <summary>Backends shared by the whole test run (the ILGPU ones are expensive to create).</summary>
[SetUpFixture]
public sealed class TestBackends
{
    private static CpuBackend? _cpu;
    private static IlgpuBackend? _ilgpuCpu;
    private static IlgpuBackend? _cuda;
    private static bool _cudaProbed;
    private static readonly object Gate = new();

    /// <summary>The managed CPU backend.</summary>
    public static CpuBackend Cpu { get { lock (Gate) return _cpu ??= new CpuBackend(); } }

    /// <summary>ILGPU's CPU accelerator: the GPU kernels, emulated. Keep shapes tiny.</summary>
    public static IlgpuBackend IlgpuCpu { get { lock (Gate) return _ilgpuCpu ??= IlgpuBackend.CreateCpuEmulator(); } }

    /// <summary>The first CUDA device, or an ignored test when the machine has none.</summary>
    public static IlgpuBackend Cuda
    {
        get
        {
            lock (Gate)
            {
                if (!_cudaProbed)
                {
                    _cudaProbed = true;
                    if (Devices.CudaDevices().Count > 0) _cuda = IlgpuBackend.CreateCuda(0);
                }
                if (_cuda is null) Assert.Ignore("no CUDA device on this machine");
                return _cuda!;
            }
        }
    }

    [OneTimeTearDown]
    public void DisposeAll()
    {
        _ilgpuCpu?.Dispose();
        _cuda?.Dispose();
        _cpu?.Dispose();
    }
}
