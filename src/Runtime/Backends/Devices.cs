using ILGPU;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace DiffusionKernels.Runtime;

/// <summary>
/// Device names used everywhere: <c>auto</c> (CUDA when ILGPU finds a usable device, else <c>cpu</c>),
/// <c>cuda</c>, <c>cuda:N</c>, <c>cpu</c>, <c>ilgpu-cpu</c>.
/// </summary>
public static class Devices
{
    /// <summary>The accepted device names, for help texts.</summary>
    public const string Names = "auto, cpu, cuda, cuda:N, ilgpu-cpu";

    /// <summary>Creates the backend for <paramref name="name"/>; a named device that is absent is an error, never a silent fallback.</summary>
    public static Backend Create(string name)
    {
        var n = (name ?? "").Trim().ToLowerInvariant();
        switch (n)
        {
            case "cpu": return new CpuBackend();
            case "ilgpu-cpu": return IlgpuBackend.CreateCpuEmulator();
            case "auto": return CudaDevices().Count > 0 ? IlgpuBackend.CreateCuda(0) : new CpuBackend();
            case "cuda": return IlgpuBackend.CreateCuda(0);
        }
        if (n.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (int.TryParse(n.AsSpan(5), out int index) && index >= 0) return IlgpuBackend.CreateCuda(index);
            throw new DeviceNotAvailableException($"device '{name}': the CUDA index must be a non-negative integer (e.g. cuda:0)");
        }
        throw new DeviceNotAvailableException($"unknown device '{name}'; expected one of {Names}");
    }

    /// <summary>
    /// Creates the backend for <paramref name="name"/> in <paramref name="precision"/>. <see cref="Precision.Tf32"/>
    /// needs an ILGPU device (CUDA with compute capability 8.0+, or the ilgpu-cpu emulator): the CPU backend computes
    /// in fp32 only, and asking it for TF32 is an error rather than a silently exact run.
    /// </summary>
    public static Backend Create(string name, Precision precision)
    {
        var backend = Create(name);
        if (precision == Precision.Fp32) return backend;
        try
        {
            if (backend is IlgpuBackend ilgpu)
            {
                ilgpu.Precision = precision;
                return ilgpu;
            }
            throw new ArgumentException($"precision {precision.Name()} needs a CUDA device (or the ilgpu-cpu emulator); device '{name}' is the CPU backend, which computes in fp32 only");
        }
        catch
        {
            backend.Dispose();
            throw;
        }
    }

    /// <summary>The name <c>auto</c> resolves to on this machine.</summary>
    public static string ResolveAuto() => CudaDevices().Count > 0 ? "cuda:0" : "cpu";

    /// <summary>CUDA devices ILGPU can see (empty without a driver).</summary>
    public static IReadOnlyList<DeviceInfo> CudaDevices()
    {
        try
        {
            using var context = IlgpuContexts.CreateCuda();
            var devices = context.GetCudaDevices();
            var list = new List<DeviceInfo>();
            for (int i = 0; i < devices.Count; i++) list.Add(IlgpuContexts.Describe(devices[i], $"cuda:{i}"));
            return list;
        }
        catch (Exception e) when (e is DllNotFoundException or TypeInitializationException or InvalidOperationException or NotSupportedException)
        {
            return [];
        }
    }

    /// <summary>Every device this machine offers, CUDA first.</summary>
    public static IReadOnlyList<DeviceInfo> List()
    {
        var list = new List<DeviceInfo>(CudaDevices()) { CpuBackend.Describe() };
        using (var context = IlgpuContexts.CreateCpuEmulator())
            list.Add(IlgpuContexts.Describe(context.GetCPUDevice(0), "ilgpu-cpu"));
        return list;
    }
}
