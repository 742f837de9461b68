using NUnit.Framework;

namespace DiffusionKernels.Tests.Support;

/// <summary>
/// Test cases of GPU kernels: each case runs on ILGPU's CPU accelerator (<c>ilgpu-cpu</c>) and on CUDA (<c>cuda</c>,
/// category <c>Gpu</c>); larger shapes that the emulator cannot afford run on CUDA only. The device name is appended
/// as the case's last argument; resolve it with <see cref="TestBackends.Get"/>.
/// </summary>
public static class GpuTargets
{
    /// <summary>The category of every test that needs a CUDA device.</summary>
    public const string Category = "Gpu";

    /// <summary>The two kernel devices, as cases with the device name as their only argument.</summary>
    public static IEnumerable<TestCaseData> Devices()
    {
        yield return new TestCaseData("ilgpu-cpu").SetName("{m}(ilgpu-cpu)");
        yield return new TestCaseData("cuda").SetName("{m}(cuda)").SetCategory(Category);
    }

    /// <summary>Every backend: the CPU backend, then the two kernel devices.</summary>
    public static IEnumerable<TestCaseData> AllDevices()
    {
        yield return new TestCaseData("cpu").SetName("{m}(cpu)");
        foreach (var d in Devices()) yield return d;
    }

    /// <summary><paramref name="everywhere"/> on both devices, <paramref name="cudaOnly"/> on CUDA alone.</summary>
    public static IEnumerable<TestCaseData> Cases(IEnumerable<object[]> everywhere, IEnumerable<object[]>? cudaOnly = null)
    {
        foreach (var args in everywhere)
        {
            yield return On(args, "ilgpu-cpu");
            yield return On(args, "cuda");
        }
        foreach (var args in cudaOnly ?? [])
            yield return On(args, "cuda");
    }

    /// <summary>Single-argument cases (records, shapes) on both devices, and on CUDA alone.</summary>
    public static IEnumerable<TestCaseData> Cases<T>(IEnumerable<T> everywhere, IEnumerable<T>? cudaOnly = null) =>
        Cases(everywhere.Select(c => new object[] { c! }), cudaOnly?.Select(c => new object[] { c! }));

    private static TestCaseData On(object[] args, string device)
    {
        // NUnit reads braces in a name as placeholders, so record-style ToString braces become parentheses.
        string shown = string.Join(", ", args.Select(Format)).Replace('{', '(').Replace('}', ')');
        var data = new TestCaseData([.. args, device]).SetName($"{{m}}({shown}, {device})");
        return device == "cuda" ? data.SetCategory(Category) : data;
    }

    private static string Format(object? a) => a switch
    {
        null => "null",
        int[] dims => $"[{string.Join(",", dims)}]",
        float f => f.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        string s => s,
        _ => a.ToString() ?? "",
    };
}
