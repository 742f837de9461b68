using DiffusionKernels.Medical.Phantoms;
using DiffusionKernels.Runtime.IO;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Cli;

/// <summary><c>dk phantoms --contrast-b</c>: paired contrasts (and lesion masks) of the same phantoms.</summary>
public class PairedPhantomsCommandTests
{
    [Test]
    public void WritesBothContrastsAndTheMasksOfTheSamePhantoms()
    {
        var dir = Directory.CreateTempSubdirectory("dk-pairs-").FullName;
        try
        {
            string a = Path.Combine(dir, "a.npy"), b = Path.Combine(dir, "b.npy"), m = Path.Combine(dir, "m.npy");
            var (code, _, err) = CliRunner.Run("phantoms", "--n", "3", "--size", "16", "--seed", "4", "--first-index", "9", "--lesions",
                "--output", a, "--contrast-b", b, "--masks", m);
            Assert.That(code, Is.EqualTo(0), err);
            var (wantA, wantB, wantMasks) = SecondContrast.GenerateBatch(3, 16, 4, LesionSpec.Standard, 9);
            Assert.That(Npy.Read(a).AsFloat32(), Is.EqualTo(wantA));
            Assert.That(Npy.Read(b).AsFloat32(), Is.EqualTo(wantB));
            Assert.That(Npy.Read(m).AsFloat32(), Is.EqualTo(wantMasks));
            Assert.That(Npy.Read(b).Shape, Is.EqualTo(new[] { 3, 1, 16, 16 }));

            (code, _, err) = CliRunner.Run("phantoms", "--n", "1", "--output", a, "--contrast-b", a);
            Assert.That(code, Is.Not.EqualTo(0));
            Assert.That(err, Does.Contain("--contrast-b"));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
