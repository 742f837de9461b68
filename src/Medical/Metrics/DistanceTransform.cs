namespace DiffusionKernels.Medical.Metrics;

/// <summary>
/// The exact Euclidean distance transform of a 2-D binary image: for every pixel, the distance to the nearest feature
/// pixel (unit spacing), by Felzenszwalb and Huttenlocher's lower envelope of parabolas, one pass down the columns and
/// one along the rows (O(H·W)). Written here because none of the project's libraries has one; checked against SciPy's
/// <c>distance_transform_edt</c>.
/// </summary>
public static class DistanceTransform
{
    /// <summary>
    /// Squared distances [H·W] from each pixel to the nearest pixel where <paramref name="feature"/> is true;
    /// +∞ everywhere when there is no feature pixel.
    /// </summary>
    public static double[] Squared(ReadOnlySpan<bool> feature, int height, int width)
    {
        if (height < 1 || width < 1 || feature.Length != (long)height * width)
            throw new ArgumentException($"distance transform: {feature.Length} pixels do not make a {height}×{width} image");
        var d = new double[feature.Length];
        for (int i = 0; i < d.Length; i++) d[i] = feature[i] ? 0 : double.PositiveInfinity;
        int longest = Math.Max(height, width);
        var f = new double[longest];
        var g = new double[longest];
        var v = new int[longest];
        var z = new double[longest + 1];
        for (int x = 0; x < width; x++)
        {
            for (int y = 0; y < height; y++) f[y] = d[y * width + x];
            Envelope(f, height, g, v, z);
            for (int y = 0; y < height; y++) d[y * width + x] = g[y];
        }
        for (int y = 0; y < height; y++)
        {
            var row = d.AsSpan(y * width, width);
            row.CopyTo(f);
            Envelope(f, width, g, v, z);
            g.AsSpan(0, width).CopyTo(row);
        }
        return d;
    }

    /// <summary>Distances (not squared) from each pixel to the nearest feature pixel.</summary>
    public static double[] Distances(ReadOnlySpan<bool> feature, int height, int width)
    {
        var d = Squared(feature, height, width);
        for (int i = 0; i < d.Length; i++) d[i] = Math.Sqrt(d[i]);
        return d;
    }

    /// <summary>Where the parabolas rooted at p and q (p &lt; q) intersect.</summary>
    private static double Intersection(double[] f, int p, int q) => (f[q] + (double)q * q - (f[p] + (double)p * p)) / (2.0 * (q - p));

    /// <summary>g(q) = min_p (q − p)² + f(p) over the n samples of f; infinite f(p) are no parabola at all.</summary>
    private static void Envelope(double[] f, int n, double[] g, int[] v, double[] z)
    {
        int k = -1;
        for (int q = 0; q < n; q++)
        {
            if (double.IsPositiveInfinity(f[q])) continue;
            if (k < 0)
            {
                k = 0;
                v[0] = q;
                z[0] = double.NegativeInfinity;
                z[1] = double.PositiveInfinity;
                continue;
            }
            double s;
            // Drop the parabolas the new one hides (z[0] = −∞ keeps the first).
            while ((s = Intersection(f, v[k], q)) <= z[k]) k--;
            k++;
            v[k] = q;
            z[k] = s;
            z[k + 1] = double.PositiveInfinity;
        }
        if (k < 0)
        {
            Array.Fill(g, double.PositiveInfinity, 0, n);
            return;
        }
        int j = 0;
        for (int q = 0; q < n; q++)
        {
            while (z[j + 1] < q) j++;
            double dq = q - v[j];
            g[q] = dq * dq + f[v[j]];
        }
    }
}
