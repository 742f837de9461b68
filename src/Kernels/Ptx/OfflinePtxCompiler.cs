using ILGPU;
using ILGPU.Backends;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace DiffusionKernels.Kernels.Ptx;

/// <summary>
/// Compiles the kernels of <see cref="KernelCatalog"/> to PTX for a chosen CUDA architecture without a GPU or a
/// driver, through ILGPU's own PTX backend with the runtime's settings (<see cref="KernelCompilation"/>): the
/// same text a CUDA device of that architecture would be handed, ready for <c>ptxas</c>.
/// </summary>
internal sealed class OfflinePtxCompiler : IDisposable
{
    private readonly Context _context;
    private readonly PTXBackend _backend;

    /// <summary>
    /// Compiles for <paramref name="architecture"/> at PTX ISA <paramref name="instructionSet"/>, with the runtime's
    /// settings or, for comparisons, another optimization <paramref name="level"/>.
    /// </summary>
    public OfflinePtxCompiler(CudaArchitecture architecture, CudaInstructionSet instructionSet, OptimizationLevel level = KernelCompilation.Level)
    {
        Architecture = architecture;
        InstructionSet = instructionSet;
        _context = Context.Create(b => KernelCompilation.Configure(b).Optimize(level));
        _backend = new PTXBackend(_context, new CudaCapabilityContext(architecture), architecture, instructionSet, null);
    }

    /// <summary>The target architecture.</summary>
    public CudaArchitecture Architecture { get; }

    /// <summary>The PTX ISA written on the <c>.version</c> line.</summary>
    public CudaInstructionSet InstructionSet { get; }

    /// <summary>
    /// The PTX ISA ILGPU 1.5.3 picks at run time on a device of <paramref name="architecture"/> under a driver of
    /// CUDA version <paramref name="driverMajor"/>.<paramref name="driverMinor"/> (the newest ISA it knows that the driver accepts).
    /// </summary>
    public static CudaInstructionSet RuntimeInstructionSet(CudaArchitecture architecture, int driverMajor, int driverMinor) =>
        CudaAccelerator.GetInstructionSet(architecture, CudaDriverVersion.FromMajorMinor(driverMajor, driverMinor));

    /// <summary>The PTX of <paramref name="kernel"/>.</summary>
    public string Compile(KernelEntry kernel)
    {
        var entry = kernel.ExplicitlyGrouped
            ? EntryPointDescription.FromExplicitlyGroupedKernel(kernel.Method)
            : EntryPointDescription.FromImplicitlyGroupedKernel(kernel.Method);
        var compiled = (PTXCompiledKernel)_backend.Compile(entry, KernelSpecialization.Empty);
        return compiled.PTXAssembly;
    }

    /// <summary>Releases the compiler's ILGPU context.</summary>
    public void Dispose()
    {
        _backend.Dispose();
        _context.Dispose();
    }
}
