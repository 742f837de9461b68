using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.IO;
using NUnit.Framework;

namespace DiffusionKernels.Tests.IO;

public class ConfigReaderTests
{
    [Test]
    public void PythonsNonFiniteLiteralsAreNumbersOutsideStringsOnly()
    {
        var p = ConfigReader.Parse("""{"lambda_min_clipped": -Infinity, "a": Infinity, "b": NaN, "name": "NaN -Infinity", "c": [1, -Infinity]}""", "s.json");
        Assert.That(p.Double("lambda_min_clipped", 0), Is.EqualTo(double.NegativeInfinity));
        Assert.That(p.Double("a", 0), Is.EqualTo(double.PositiveInfinity));
        Assert.That(p.String("name", null), Is.EqualTo("NaN -Infinity"));
        // NaN is never a valid setting; a list of numbers must be finite.
        Assert.That(() => p.Double("b", 0), Throws.InstanceOf<ModelFormatException>().With.Message.Contains("'b'"));
        Assert.That(() => p.Doubles("c"), Throws.InstanceOf<ModelFormatException>().With.Message.Contains("'c'"));
    }

    [TestCase("")]
    [TestCase("{\"a\": 1")]
    [TestCase("[1, 2]")]
    [TestCase("\"text\"")]
    [TestCase("{\"a\": Infinit}")]
    public void MalformedDocumentsNameTheFile(string json)
    {
        Assert.That(() => ConfigReader.Parse(json, "folder/config.json"),
            Throws.InstanceOf<ModelFormatException>().With.Message.StartsWith("folder/config.json: "));
    }

    [Test]
    public void BoundsNameTheKeyAndTheRange()
    {
        var p = ConfigReader.Parse("""{"n": 1e8, "f": 2.5, "g": 0, "x": 1e300}""", "c.json");
        Assert.That(() => p.Int("n", 0, 2, 100_000), Throws.InstanceOf<ModelFormatException>().With.Message.Contains("'n' must be in [2, 100000], found 100000000"));
        Assert.That(() => p.Int("f", 0), Throws.InstanceOf<ModelFormatException>().With.Message.Contains("'f' must be an integer"));
        Assert.That(() => p.Int("g", 0, 1), Throws.InstanceOf<ModelFormatException>().With.Message.Contains("'g' must be ≥ 1"));
        Assert.That(() => p.Float("x", 0), Throws.InstanceOf<ModelFormatException>().With.Message.Contains("'x'"));
        // A float bound is named as written, not as its widened double (1.0000000031710769E-30).
        Assert.That(() => p.Float("f", 0, 1e-30f, 1), Throws.InstanceOf<ModelFormatException>().With.Message.Contains("'f' must be in [1E-30, 1], found 2.5"));
        Assert.That(p.Int("missing", 7, 1, 9), Is.EqualTo(7));
    }

    [Test]
    public void ChoicesListWhatIsSupported()
    {
        var p = ConfigReader.Parse("""{"kind": "cubic"}""", "c.json");
        Assert.That(() => p.Choice("kind", "linear", "linear", "cosine"),
            Throws.InstanceOf<ModelFormatException>().With.Message.Contains("'cubic' is not supported (linear, cosine)"));
    }
}
