using System.Text.RegularExpressions;
using DiffusionKernels.Kernels.Ptx;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels;

/// <summary>
/// Every GPU kernel compiled to PTX for an sm_90 device under a CUDA 13 driver, as ILGPU would hand it to the driver,
/// with no GPU: it compiles, its global accesses are <c>ld.global</c>/<c>st.global</c> (O2), and it uses no approximate
/// transcendental whose error the CPU twin does not share. <c>tools/gpu/ptxcheck.sh</c> assembles the same PTX.
/// </summary>
public class PtxTests
{
    private static readonly Lazy<OfflinePtxCompiler> Compiler = new(() =>
        new OfflinePtxCompiler(CudaArchitecture.SM_90, OfflinePtxCompiler.RuntimeInstructionSet(CudaArchitecture.SM_90, 13, 0)));

    private static IEnumerable<string> Kernels() => KernelCatalog.All.Select(k => k.Name);

    // sin/cos.approx are accurate to ~2⁻²⁰·⁹ only on [−π, π]; the FFT's twiddle angles stay within [0, 2π) and it is
    // being rewritten, so it alone may use them for now.
    private static readonly HashSet<string> MayUseApproxSinCos = ["Fft2dKernels.Line"];

    [Test]
    public void CatalogHoldsEveryLauncherKernel()
    {
        var names = KernelCatalog.All.Select(k => k.Name).ToList();
        Assert.That(names, Is.Unique);
        Assert.That(names, Is.SupersetOf(new[]
        {
            "GemmKernels.Naive", "GemmKernels.Tiled", "Conv2dKernels.Direct", "Conv2dKernels.Tiled", "AttentionKernels.Tiled",
            "AttentionKernels.Rowwise", "GroupNormKernels.GroupNorm", "Fft2dKernels.Line", "RandomNormalKernel.Fill",
            "TokenLayoutKernels.Transpose", "UpFirDn2dKernels.UpFirDn", "EmbeddingLookupKernel.Lookup",
        }));
        // Every launcher (a Gpu type built from an Accelerator) loads at least one kernel the catalog found.
        var launchers = typeof(DiffusionKernels.Kernels.Gpu.GemmKernels).Assembly.GetTypes()
            .Where(t => t.Namespace == typeof(DiffusionKernels.Kernels.Gpu.GemmKernels).Namespace && t.GetConstructors().Any(c => c.GetParameters().FirstOrDefault()?.ParameterType == typeof(Accelerator)));
        foreach (var launcher in launchers)
            Assert.That(KernelCatalog.All.Any(k => k.Method.DeclaringType == launcher), $"{launcher.Name} loads no kernel the catalog knows");
    }

    [Test]
    public void Ilgpu153PicksIsa88OnSm90UnderCuda13() =>
        Assert.That(OfflinePtxCompiler.RuntimeInstructionSet(CudaArchitecture.SM_90, 13, 0), Is.EqualTo(new CudaInstructionSet(8, 8)));

    [TestCaseSource(nameof(Kernels))]
    public void CompilesForSm90WithGlobalAccessesAndExactMath(string name)
    {
        string ptx = Compiler.Value.Compile(KernelCatalog.All.Single(k => k.Name == name));
        Assert.That(ptx, Does.Contain(".version 8.8").And.Contain(".entry"));
        var generic = Regex.Matches(ptx, @"\b(ld|st)\.(f32|f64|u8|u16|u32|u64|s8|s16|s32|s64|b8|b16|b32|b64|v2|v4)\b").Select(m => m.Value).Distinct().ToList();
        Assert.That(generic, Is.Empty, "generic (address-space-less) loads or stores");
        var approx = Regex.Matches(ptx, @"\b(tanh|lg2|sin|cos)\.approx\.[a-z0-9.]+").Select(m => m.Value).Distinct()
            .Where(op => !(MayUseApproxSinCos.Contains(name) && (op.StartsWith("sin.", StringComparison.Ordinal) || op.StartsWith("cos.", StringComparison.Ordinal)))).ToList();
        Assert.That(approx, Is.Empty, "approximate transcendentals (2⁻¹¹ relative error for tanh.approx)");
    }
}
