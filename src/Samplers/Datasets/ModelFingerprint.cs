using System.Security.Cryptography;
using System.Text;

namespace DiffusionKernels.Samplers.Datasets;

/// <summary>
/// The SHA-256 that identifies a model in a dataset manifest, independent of where the model is mounted: a model
/// folder's top-level <c>*.json</c> and <c>*.safetensors</c> files (name, length, bytes, in name order); a
/// <c>gmm:FILE</c> spec's bytes; a known topology's name (its random weights follow from the name).
/// </summary>
internal static class ModelFingerprint
{
    /// <summary>The fingerprint of the model <paramref name="source"/> as <see cref="Sampling.DiffusionModel.Open"/> takes it.</summary>
    /// <exception cref="FileNotFoundException">The model's files are missing.</exception>
    public static string Compute(string source)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (source.StartsWith("gmm:", StringComparison.Ordinal)) return FileHash.Of(source[4..]);
        if (!Directory.Exists(source))
            return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes("topology:" + source)));
        var files = Directory.EnumerateFiles(source)
            .Select(Path.GetFileName)
            .Where(n => n!.EndsWith(".json", StringComparison.Ordinal) || n.EndsWith(".safetensors", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToList();
        if (files.Count == 0) throw new FileNotFoundException($"{source}: the model folder holds no .json or .safetensors file to fingerprint");
        return FileHash.OfFiles(source, files!);
    }
}
