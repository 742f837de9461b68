namespace DiffusionKernels.Medical.Phantoms;

/// <summary>
/// The same anatomy as <see cref="HeadPhantom"/> rendered with a second, T2-like contrast table, for image-to-image
/// translation (contrast A → contrast B, as T1 → T2 or MR → CT). Per tissue: skull dark (bright in A), brain a little
/// darker, ventricles (CSF) bright (dark in A), small soft structures inverted and large ones brighter, lesions bright;
/// B is a fixed function of the anatomy, and the result goes through a saturating curve. Tissues that share an A intensity get different B
/// intensities and the B order of tissues differs from A's, so no pixelwise lookup (global histogram matching included)
/// maps A to B. Deterministic per (seed, index); intensities in [0, 1].
/// </summary>
public static class SecondContrast
{
    /// <summary>Contrast A (exactly <see cref="HeadPhantom.Generate(int, ulong, long, LesionSpec?, PhantomView?)"/>) and B of one phantom, and the lesion mask when <paramref name="lesions"/> is given.</summary>
    public static (float[] A, float[] B, float[]? Mask) Generate(int size, ulong seed, long index, LesionSpec? lesions = null)
    {
        var (a, mask) = HeadPhantom.Generate(size, seed, index, lesions);
        var (head, additive, lesionShapes) = HeadPhantom.Anatomy(size, seed, index, lesions);
        // B is a fixed function of the anatomy (a model can learn it), but of tissue identity, not of A's intensity.
        double brainA = head[1].Value, brain = 0.7 * brainA, skull = 1.1 - head[0].Value;
        HeadPhantom.Ellipse[] headB = [head[0] with { Value = skull }, head[1] with { Value = brain }];
        // The first two additive ellipses are the ventricles (dark in A, CSF bright in B); the soft structures after them
        // are larger grey-matter islands (brighter in B) or small vessels (inverted), told apart by size, not intensity.
        var additiveB = additive.Select((e, k) => e with
        {
            Value = k < 2 ? 0.25 + 0.3 * (-e.Value / brainA) : e.A * e.B > 0.006 ? 1.2 * Math.Abs(e.Value) : -1.4 * e.Value,
        }).ToList();
        // Lesions: bright in both, with a contrast of their own.
        var lesionsB = lesionShapes.Select(e => e with { Value = 0.9 * Math.Abs(e.Value) + 0.1 }).ToList();
        var (b, _) = HeadPhantom.Render(size, headB, additiveB, lesionsB, withMask: false, PhantomView.Identity, clampHigh: 1);
        for (int i = 0; i < b.Length; i++) b[i] = (float)Curve(b[i]);
        return (a, b, mask);
    }

    /// <summary>n pairs [n, 1, size, size] for phantoms firstIndex … firstIndex+n−1 (masks only with lesions).</summary>
    public static (float[] A, float[] B, float[]? Masks) GenerateBatch(int n, int size, ulong seed, LesionSpec? lesions = null, long firstIndex = 0)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), $"number of phantoms must be ≥ 1, found {n}");
        if (size < 8) throw new ArgumentOutOfRangeException(nameof(size), $"phantom size must be ≥ 8, found {size}");
        long plane = (long)size * size;
        var a = new float[checked(n * plane)];
        var b = new float[a.Length];
        var masks = lesions is not null ? new float[a.Length] : null;
        Parallel.For(0, n, k =>
        {
            var (pa, pb, m) = Generate(size, seed, firstIndex + k, lesions);
            pa.CopyTo(a, k * plane);
            pb.CopyTo(b, k * plane);
            m?.CopyTo(masks!, k * plane);
        });
        return (a, b, masks);
    }

    /// <summary>The saturating intensity curve of contrast B: (1 − e^(−2.5v)) / (1 − e^(−2.5)), 0 → 0 and 1 → 1.</summary>
    public static double Curve(double v) => (1 - Math.Exp(-2.5 * v)) / (1 - Math.Exp(-2.5));
}
