namespace DiffusionKernels.Medical.Phantoms;

/// <summary>
/// How lesions are drawn into a head phantom: how many (uniform in [MinCount, MaxCount]), their semi-axes (uniform in
/// [MinRadius, MaxRadius], in units of the half field of view) and their contrast added to the tissue (uniform in
/// [MinContrast, MaxContrast]; negative for dark lesions). Positions are drawn the same way for every spec, so the
/// same (seed, index) puts lesions of every spec at the same places.
/// </summary>
public sealed record LesionSpec(int MinCount, int MaxCount, double MinRadius, double MaxRadius, double MinContrast, double MaxContrast)
{
    /// <summary>1–3 bright lesions of radius 0.05–0.11 and contrast +0.30…+0.45 (the original lesion set).</summary>
    public static LesionSpec Standard { get; } = new(1, 3, 0.05, 0.11, 0.30, 0.45);
    /// <summary>Small: radius 0.025–0.045 (a few pixels at 64×64), bright.</summary>
    public static LesionSpec Small { get; } = new(1, 3, 0.025, 0.045, 0.30, 0.45);
    /// <summary>Large: radius 0.12–0.18, bright.</summary>
    public static LesionSpec Large { get; } = new(1, 3, 0.12, 0.18, 0.30, 0.45);
    /// <summary>Low contrast: +0.08…+0.15, about the contrast of the normal soft structures.</summary>
    public static LesionSpec LowContrast { get; } = new(1, 3, 0.05, 0.11, 0.08, 0.15);
    /// <summary>Dark (hypointense): −0.30…−0.20.</summary>
    public static LesionSpec Dark { get; } = new(1, 3, 0.05, 0.11, -0.30, -0.20);

    /// <summary>The named specs: standard, small, large, low-contrast, dark.</summary>
    public static IReadOnlyDictionary<string, LesionSpec> Named { get; } = new Dictionary<string, LesionSpec>
    {
        ["standard"] = Standard,
        ["small"] = Small,
        ["large"] = Large,
        ["low-contrast"] = LowContrast,
        ["dark"] = Dark,
    };

    /// <summary>Checks the ranges (counts ≥ 1, 0 &lt; radii, lo ≤ hi, finite contrasts).</summary>
    public LesionSpec Validate()
    {
        if (MinCount < 1 || MaxCount < MinCount) throw new ArgumentException($"lesion spec: counts must satisfy 1 ≤ min ≤ max, found {MinCount}…{MaxCount}");
        if (!(MinRadius > 0 && MaxRadius >= MinRadius && MaxRadius < 1)) throw new ArgumentException($"lesion spec: radii must satisfy 0 < min ≤ max < 1, found {MinRadius}…{MaxRadius}");
        if (!(MaxContrast >= MinContrast) || !double.IsFinite(MinContrast) || !double.IsFinite(MaxContrast))
            throw new ArgumentException($"lesion spec: contrasts must be finite with min ≤ max, found {MinContrast}…{MaxContrast}");
        return this;
    }
}
