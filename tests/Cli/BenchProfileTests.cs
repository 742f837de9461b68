using System.Text.RegularExpressions;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Cli;

/// <summary><c>dk bench unet --profile</c>: launches per op kind with the host microseconds per launch of each.</summary>
public partial class BenchProfileTests
{
    private string _dir = "";

    [SetUp]
    public void MakeDir() => _dir = Directory.CreateTempSubdirectory("dk-profile-").FullName;

    [TearDown]
    public void RemoveDir() => Directory.Delete(_dir, recursive: true);

    [TestCase("cpu")]
    [TestCase("ilgpu-cpu")]
    public void PrintsLaunchesAndHostTimePerKind(string device)
    {
        var model = TinyModel.Write(Path.Combine(_dir, "tiny"));
        var (code, output, err) = CliRunner.Run("bench", "unet", "--model", model, "--iters", "1", "--device", device, "--profile");
        Assert.That(code, Is.Zero, err);
        var total = TotalLine().Match(output);
        Assert.That(total.Success, output);
        var kinds = KindLine().Matches(output);
        Assert.That(kinds, Is.Not.Empty, output);
        Assert.That(kinds.Sum(m => int.Parse(m.Groups["launches"].Value, System.Globalization.CultureInfo.InvariantCulture)),
            Is.EqualTo(int.Parse(total.Groups["launches"].Value, System.Globalization.CultureInfo.InvariantCulture)), "the kinds add up to the total");
        Assert.That(output, Does.Contain("conv").And.Contain("µs/launch"));
    }

    [GeneratedRegex(@"kernel launches per forward: (?<launches>\d+), host [\d.]+ µs to queue them \([\d.]+ µs per launch")]
    private static partial Regex TotalLine();

    [GeneratedRegex(@"^  \S+\s+(?<launches>\d+) launches\s+[\d.]+ µs", RegexOptions.Multiline)]
    private static partial Regex KindLine();
}
