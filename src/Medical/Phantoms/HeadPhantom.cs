namespace DiffusionKernels.Medical.Phantoms;

/// <summary>
/// Shepp–Logan-style 2-D head phantoms: a bright skull ring, brain tissue, two ventricles, a few random ellipses of
/// varying contrast and, optionally, lesions (<see cref="LesionSpec"/>) with ground-truth masks. Deterministic per (seed, index);
/// intensities in [0, 1]. Rendered with 3×3 supersampling so edges are anti-aliased like a band-limited scan.
/// </summary>
public static class HeadPhantom
{
    internal readonly record struct Ellipse(double X, double Y, double A, double B, double Angle, double Value)
    {
        public bool Contains(double x, double y)
        {
            double c = Math.Cos(Angle), s = Math.Sin(Angle);
            double u = (x - X) * c + (y - Y) * s, v = -(x - X) * s + (y - Y) * c;
            return u * u / (A * A) + v * v / (B * B) <= 1;
        }
    }

    /// <summary>One phantom (and its lesion mask when <paramref name="lesions"/>) of size×size.</summary>
    public static (float[] Image, float[]? Mask) Generate(int size, ulong seed, long index, bool lesions) =>
        Generate(size, seed, index, lesions ? LesionSpec.Standard : null);

    /// <summary>
    /// One phantom of size×size with lesions drawn from <paramref name="lesions"/> (null: healthy, no mask), seen through
    /// <paramref name="view"/> (null: as trained). The healthy anatomy of (seed, index) is the same whatever the lesion
    /// spec: lesions are drawn after it.
    /// </summary>
    public static (float[] Image, float[]? Mask) Generate(int size, ulong seed, long index, LesionSpec? lesions, PhantomView? view = null)
    {
        var (head, additive, lesionShapes) = Anatomy(size, seed, index, lesions);
        return Render(size, head, additive, lesionShapes, lesions is not null, view ?? PhantomView.Identity, clampHigh: 1);
    }

    /// <summary>The ellipses of phantom (seed, index): the head (skull, brain), the additive structures (ventricles first) and the lesions.</summary>
    internal static (Ellipse[] Head, List<Ellipse> Additive, List<Ellipse> Lesions) Anatomy(int size, ulong seed, long index, LesionSpec? lesions)
    {
        if (size < 8) throw new ArgumentOutOfRangeException(nameof(size), $"phantom size must be ≥ 8, found {size}");
        var rng = new SplitMix64(seed * 0x9E3779B97F4A7C15UL ^ (ulong)index * 0xD1B54A32D192ED03UL ^ 0x5DEECE66DUL);
        rng.Next();
        return Layout(ref rng, lesions);
    }

    /// <summary>Renders ellipses: head[0] (skull value), head[1] (brain value, replaces), additive inside the brain, lesions inside the brain.</summary>
    internal static (float[] Image, float[]? Mask) Render(int size, IReadOnlyList<Ellipse> head, IReadOnlyList<Ellipse> additive, IReadOnlyList<Ellipse> lesionShapes,
        bool withMask, PhantomView view, double clampHigh)
    {
        var image = new float[size * size];
        var mask = withMask ? new float[size * size] : null;
        const int ss = 3;
        for (int i = 0; i < size; i++)
            for (int j = 0; j < size; j++)
            {
                double sum = 0, lesionHits = 0;
                for (int si = 0; si < ss; si++)
                    for (int sj = 0; sj < ss; sj++)
                    {
                        // Pixel centres in [-1, 1]; y grows downwards like an image row index.
                        double px = -1 + (2 * j + (2 * sj + 1.0) / ss) / size;
                        double py = -1 + (2 * i + (2 * si + 1.0) / ss) / size;
                        var (x, y) = view.ToObject(px, py);
                        double v = 0;
                        if (head[0].Contains(x, y)) v = head[0].Value;
                        bool inBrain = head[1].Contains(x, y);
                        if (inBrain) v = head[1].Value;
                        if (inBrain)
                            foreach (var e in additive) if (e.Contains(x, y)) v += e.Value;
                        bool inLesion = false;
                        if (inBrain)
                            foreach (var e in lesionShapes) if (e.Contains(x, y)) { v += e.Value; inLesion = true; }
                        sum += v;
                        if (inLesion) lesionHits++;
                    }
                image[i * size + j] = (float)Math.Clamp(sum / (ss * ss), 0, clampHigh);
                if (mask is not null) mask[i * size + j] = lesionHits * 2 >= ss * ss ? 1f : 0f;
            }
        return (image, mask);
    }

    /// <summary>A batch [n, 1, size, size] (and masks of the same shape) for samples firstIndex … firstIndex+n−1.</summary>
    public static (float[] Images, float[]? Masks) GenerateBatch(int n, int size, ulong seed, bool lesions, long firstIndex = 0) =>
        GenerateBatch(n, size, seed, lesions ? LesionSpec.Standard : null, firstIndex);

    /// <summary>A batch with lesions from <paramref name="lesions"/> (null: healthy) and an optional view per image.</summary>
    public static (float[] Images, float[]? Masks) GenerateBatch(int n, int size, ulong seed, LesionSpec? lesions, long firstIndex = 0, Func<int, PhantomView>? view = null)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), $"number of phantoms must be ≥ 1, found {n}");
        if (size < 8) throw new ArgumentOutOfRangeException(nameof(size), $"phantom size must be ≥ 8, found {size}");
        var images = new float[checked((long)n * size * size)];
        var masks = lesions is not null ? new float[images.Length] : null;
        Parallel.For(0, n, k =>
        {
            var (img, m) = Generate(size, seed, firstIndex + k, lesions, view?.Invoke(k));
            img.CopyTo(images, (long)k * size * size);
            m?.CopyTo(masks!, (long)k * size * size);
        });
        return (images, masks);
    }

    private static (Ellipse[] Head, List<Ellipse> Additive, List<Ellipse> Lesions) Layout(ref SplitMix64 r, LesionSpec? lesions)
    {
        double cx = r.Uniform(-0.04, 0.04), cy = r.Uniform(-0.04, 0.04), rot = r.Uniform(-0.17, 0.17);
        double a = r.Uniform(0.66, 0.76), b = r.Uniform(0.84, 0.94), skull = r.Uniform(0.055, 0.08);
        double brain = r.Uniform(0.42, 0.52);
        var head = new[]
        {
            new Ellipse(cx, cy, a, b, rot, r.Uniform(0.9, 1.0)),
            new Ellipse(cx, cy, a - skull, b - skull * 1.1, rot, brain),
        };
        var add = new List<Ellipse>();
        // Ventricles: a mirrored, tilted pair of dark ellipses near the centre.
        double vx = r.Uniform(0.07, 0.13), vy = r.Uniform(-0.12, 0.02), va = r.Uniform(0.05, 0.08), vb = r.Uniform(0.16, 0.24), tilt = r.Uniform(0.2, 0.45);
        double dark = -brain * r.Uniform(0.6, 0.8);
        add.Add(new Ellipse(cx - vx, cy + vy, va, vb, rot + tilt, dark));
        add.Add(new Ellipse(cx + vx, cy + vy, va, vb, rot - tilt, dark));
        // A few soft structures of varying contrast (grey-matter islands, old lesions, vessels).
        int extra = r.Int(2, 4);
        for (int k = 0; k < extra; k++)
        {
            double ang = r.Uniform(0, 2 * Math.PI), rad = r.Uniform(0.15, 0.5);
            add.Add(new Ellipse(cx + rad * Math.Cos(ang) * a, cy + rad * Math.Sin(ang) * b, r.Uniform(0.04, 0.14), r.Uniform(0.04, 0.14),
                r.Uniform(0, Math.PI), r.Uniform(-0.12, 0.12)));
        }
        var les = new List<Ellipse>();
        if (lesions is { } spec)
        {
            // The same draws for every spec (positions match across specs); the spec only maps them to sizes and contrasts.
            int count = spec.MinCount + (int)(r.NextDouble() * (spec.MaxCount - spec.MinCount + 1));
            for (int k = 0; k < count; k++)
            {
                double ang = r.Uniform(0, 2 * Math.PI), rad = r.Uniform(0.1, 0.55);
                les.Add(new Ellipse(cx + rad * Math.Cos(ang) * a, cy + rad * Math.Sin(ang) * b, r.Uniform(spec.MinRadius, spec.MaxRadius), r.Uniform(spec.MinRadius, spec.MaxRadius),
                    r.Uniform(0, Math.PI), r.Uniform(spec.MinContrast, spec.MaxContrast)));
            }
        }
        return (head, add, les);
    }
}
