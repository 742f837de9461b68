using System.CommandLine;
using DiffusionKernels.Medical.Phantoms;
using DiffusionKernels.Medical.Quality;
using DiffusionKernels.Runtime.IO;

namespace DiffusionKernels.Cli.Commands;

/// <summary>
/// <c>dk eval</c>: how close generated images are to real phantoms, printed beside two baselines (pure noise, and a
/// second set of real phantoms) so the numbers mean something.
/// </summary>
public static class EvalCommand
{
    /// <summary>Phantom indices used for evaluation references start here, far from any training set.</summary>
    public const long ReferenceIndex = 1_000_000_000;

    public static Command Create()
    {
        var samples = new Option<string>("--samples") { Description = "Generated images [N, 1, S, S] (.npy)", Required = true };
        var reference = new Option<string?>("--reference") { Description = "Real images [M, 1, S, S] in [0, 1] (.npy); default: fresh head phantoms" };
        var range = new Option<string>("--samples-range") { Description = "Value range of the samples, mapped to [0, 1]", DefaultValueFactory = _ => "-1,1" };
        var count = new Option<int>("--reference-count") { Description = "Phantoms per generated reference set", DefaultValueFactory = _ => 512 };
        var command = new Command("eval", "Compare generated images with real phantoms (sliced Wasserstein, histogram W1, power spectrum)") { samples, reference, range, count };
        command.SetAction(r =>
        {
            var s = Npy.Read(r.GetValue(samples)!);
            if (s.Shape.Length != 4 || s.Shape[1] != 1 || s.Shape[2] != s.Shape[3])
                throw new ArgumentException($"{r.GetValue(samples)}: expected [N, 1, S, S] images, found {string.Join("×", s.Shape)}");
            var (lo, hi) = ParseRange(r.GetValue(range)!);
            int size = s.Shape[2];
            var generated = s.AsFloat32().Select(v => (v - lo) / (hi - lo)).ToArray();
            int n = CommonOptions.AtLeast("--reference-count", r.GetValue(count), 2);
            var real = r.GetValue(reference) is { } path ? Npy.Read(path).AsFloat32() : HeadPhantom.GenerateBatch(n, size, 0, false, ReferenceIndex).Images;
            var second = HeadPhantom.GenerateBatch(n, size, 0, false, ReferenceIndex + n).Images;
            var noise = SampleQuality.UniformNoise(generated.Length);
            Console.WriteLine($"{s.Shape[0]} samples of {size}×{size} against {real.Length / (size * size)} real images:");
            Console.WriteLine($"  samples         {SampleQuality.Compare(generated, real, size)}");
            Console.WriteLine($"  noise baseline  {SampleQuality.Compare(noise, real, size)}");
            Console.WriteLine($"  real vs real    {SampleQuality.Compare(second, real, size)}");
            return 0;
        });
        return command;
    }

    public static (float Lo, float Hi) ParseRange(string text)
    {
        var parts = text.Split(',');
        if (parts.Length == 2 && float.TryParse(parts[0], System.Globalization.CultureInfo.InvariantCulture, out var lo)
            && float.TryParse(parts[1], System.Globalization.CultureInfo.InvariantCulture, out var hi) && hi > lo)
            return (lo, hi);
        throw new ArgumentException($"--samples-range must be 'lo,hi' with lo < hi, found '{text}'");
    }
}
