using DiffusionKernels.Kernels;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace DiffusionKernels.Runtime;

/// <summary>Creates ILGPU contexts with the settings every kernel here assumes.</summary>
internal static class IlgpuContexts
{
    /// <summary>Warp width and warps per group of the emulated device: 256-thread groups like the CUDA launch configs.</summary>
    public const int EmulatedWarpSize = 32, EmulatedWarpsPerGroup = 8;

    // Both use the kernels' compiler settings (KernelCompilation), the ones the offline PTX check compiles with.
    public static Context CreateCuda() =>
        Context.Create(b => KernelCompilation.Configure(b.Cuda()));

    public static Context CreateCpuEmulator() =>
        Context.Create(b => KernelCompilation.Configure(b.CPU(new CPUDevice(EmulatedWarpSize, EmulatedWarpsPerGroup, 1))));

    public static DeviceInfo Describe(Device device, string name) => device switch
    {
        CudaDevice cuda => new DeviceInfo(name, "cuda", cuda.Name, cuda.MemorySize, cuda.NumMultiprocessors, cuda.WarpSize,
            $"sm_{cuda.Architecture?.Major}{cuda.Architecture?.Minor}", cuda.InstructionSet?.ToString()),
        _ => new DeviceInfo(name, "ilgpu-cpu", $"ILGPU CPU accelerator (emulated GPU threads, {device.MaxNumThreadsPerGroup}/group)",
            GC.GetGCMemoryInfo().TotalAvailableMemoryBytes, device.NumMultiprocessors, device.WarpSize),
    };
}
