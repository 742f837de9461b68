namespace DiffusionKernels;

/// <summary>
/// The phantom model the engine ships (<c>models/phantom64</c>, a diffusers UNet2DModel of synthetic head MRI): found next
/// to the program (where the package or the tool puts it), in a folder above it (a repository build), or under the
/// working directory.
/// </summary>
public static class BundledModel
{
    /// <summary>The model's folder relative to the program, the repository root or the working directory.</summary>
    public const string RelativePath = "models/phantom64";

    /// <summary>The bundled image-conditioned segmentation model (image → lesion mask), relative like <see cref="RelativePath"/>.</summary>
    public const string SegmentationPath = "models/phantom64-seg";

    /// <summary>The bundled image-conditioned translation model (contrast A → contrast B), relative like <see cref="RelativePath"/>.</summary>
    public const string TranslationPath = "models/phantom64-t1t2";

    /// <summary>The bundled model's folder.</summary>
    /// <exception cref="DirectoryNotFoundException">It is in none of the places searched (the message lists them).</exception>
    public static string Find() => Find(RelativePath);

    /// <summary>The folder of a bundled model at <paramref name="relativePath"/> (e.g. <see cref="SegmentationPath"/>), searched as <see cref="Find()"/> searches.</summary>
    /// <exception cref="DirectoryNotFoundException">It is in none of the places searched (the message lists them).</exception>
    public static string Find(string relativePath)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(relativePath);
        var searched = new List<string>();
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, relativePath);
            if (IsModel(candidate)) return candidate;
            if (searched.Count < 2) searched.Add(candidate);
        }
        if (IsModel(relativePath)) return relativePath;
        throw new DirectoryNotFoundException($"the bundled model ({relativePath}) was not found next to the program ({string.Join(", ", searched)}, …) "
                                             + "or in the working directory; give a model folder instead");
    }

    private static bool IsModel(string dir) => File.Exists(Path.Combine(dir, "config.json"));
}
