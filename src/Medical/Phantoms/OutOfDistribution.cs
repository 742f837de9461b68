namespace DiffusionKernels.Medical.Phantoms;

/// <summary>The kinds of out-of-distribution images <see cref="OutOfDistribution"/> makes.</summary>
public enum OodKind
{
    /// <summary>The modified Shepp–Logan phantom, slightly rotated and scaled per image.</summary>
    SheppLogan,
    /// <summary>Head phantoms rotated by 60–120° either way (training heads tilt by at most 10°).</summary>
    Rotated,
    /// <summary>Head phantoms flipped upside down.</summary>
    Flipped,
    /// <summary>Head phantoms shrunk to 60–75 % of their size.</summary>
    Scaled,
}

/// <summary>
/// Images the phantom model never saw, to test a prior away from its training distribution: the modified
/// Shepp–Logan phantom (Toft's contrasts, slightly rotated and scaled per image), head phantoms rotated by 60–120°
/// either way (training heads tilt by at most 10°), flipped upside down, and shrunk to 60–75 % of their size.
/// Deterministic per (seed, index); intensities in [0, 1].
/// </summary>
public static class OutOfDistribution
{
    /// <summary>The kinds in the order <see cref="Mixed"/> cycles through them.</summary>
    public static IReadOnlyList<OodKind> Kinds { get; } = [OodKind.SheppLogan, OodKind.Rotated, OodKind.Flipped, OodKind.Scaled];

    /// <summary>Short name of a kind for tables.</summary>
    public static string Name(OodKind kind) => kind switch
    {
        OodKind.SheppLogan => "Shepp–Logan",
        OodKind.Rotated => "rotated 60–120°",
        OodKind.Flipped => "flipped upside down",
        _ => "scaled 0.60–0.75",
    };

    /// <summary>One image of <paramref name="kind"/> of size×size.</summary>
    public static float[] Generate(OodKind kind, int size, ulong seed, long index)
    {
        if (size < 8) throw new ArgumentOutOfRangeException(nameof(size), $"phantom size must be ≥ 8, found {size}");
        var rng = new SplitMix64(seed * 0xA24BAED4963EE407UL ^ (ulong)index * 0x9FB21C651E98DF25UL ^ (ulong)kind);
        rng.Next();
        switch (kind)
        {
            case OodKind.SheppLogan:
            {
                var view = new PhantomView(rng.Uniform(-0.05, 0.05), rng.Uniform(0.9, 1.0), false, false);
                return SheppLogan(size, view);
            }
            case OodKind.Rotated:
            {
                double angle = rng.Uniform(Math.PI / 3, 2 * Math.PI / 3) * (rng.NextDouble() < 0.5 ? -1 : 1);
                return HeadPhantom.Generate(size, seed, index, null, new PhantomView(angle, 1, false, false)).Image;
            }
            case OodKind.Flipped:
                return HeadPhantom.Generate(size, seed, index, null, new PhantomView(0, 1, true, false)).Image;
            case OodKind.Scaled:
                return HeadPhantom.Generate(size, seed, index, null, new PhantomView(0, rng.Uniform(0.6, 0.75), false, false)).Image;
            default:
                throw new ArgumentOutOfRangeException(nameof(kind), $"unknown out-of-distribution kind {kind}");
        }
    }

    /// <summary>n images [n, 1, size, size], image k of kind <see cref="Kinds"/>[k mod 4] and index firstIndex + k; also each image's kind.</summary>
    public static (float[] Images, OodKind[] Kinds) Mixed(int n, int size, ulong seed, long firstIndex)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), $"number of images must be ≥ 1, found {n}");
        var images = new float[checked((long)n * size * size)];
        var kinds = new OodKind[n];
        Parallel.For(0, n, k =>
        {
            kinds[k] = Kinds[k % Kinds.Count];
            Generate(kinds[k], size, seed, firstIndex + k).CopyTo(images, (long)k * size * size);
        });
        return (images, kinds);
    }

    /// <summary>
    /// The modified Shepp–Logan phantom (Toft 1996: skull 1, brain 0.2, ventricles 0, small features 0.3), y pointing
    /// up as in MATLAB's <c>phantom</c>, seen through <paramref name="view"/>.
    /// </summary>
    public static float[] SheppLogan(int size, PhantomView view)
    {
        const double deg = Math.PI / 180;
        // (value, a, b, x0, y0, φ) in MATLAB's coordinates; rows grow downwards here, so y0 and φ change sign.
        (double V, double A, double B, double X, double Y, double Phi)[] e =
        [
            (1.0, 0.69, 0.92, 0, 0, 0),
            (-0.8, 0.6624, 0.874, 0, -0.0184, 0),
            (-0.2, 0.11, 0.31, 0.22, 0, -18 * deg),
            (-0.2, 0.16, 0.41, -0.22, 0, 18 * deg),
            (0.1, 0.21, 0.25, 0, 0.35, 0),
            (0.1, 0.046, 0.046, 0, 0.1, 0),
            (0.1, 0.046, 0.046, 0, -0.1, 0),
            (0.1, 0.046, 0.023, -0.08, -0.605, 0),
            (0.1, 0.023, 0.023, 0, -0.606, 0),
            (0.1, 0.023, 0.046, 0.06, -0.605, 0),
        ];
        HeadPhantom.Ellipse Make(int i, double value) => new(e[i].X, -e[i].Y, e[i].A, e[i].B, -e[i].Phi, value);
        var head = new[] { Make(0, 1.0), Make(1, 0.2) };
        var additive = Enumerable.Range(2, e.Length - 2).Select(i => Make(i, e[i].V)).ToArray();
        return HeadPhantom.Render(size, head, additive, [], false, view, clampHigh: 1).Image;
    }
}
