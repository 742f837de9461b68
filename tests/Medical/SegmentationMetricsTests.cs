using DiffusionKernels.Medical.Baselines;
using DiffusionKernels.Medical.Metrics;
using DiffusionKernels.Runtime.IO;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Medical;

/// <summary>
/// Dice, IoU, HD95 and the exact distance transform against hand-computed cases and SciPy/scikit-image
/// (tools/fixtures/make_segmentation_fixtures.py), with the empty-mask rules.
/// </summary>
public class SegmentationMetricsTests
{
    private const int H = 13, W = 17, Plane = H * W;

    private static float[] Load(string name) => Npy.Read(Fixtures.Path("segmentation", name)).AsFloat32();
    /// <summary>float64 reference values, one per line (the .npy reader keeps float32).</summary>
    private static double[] Float64(string name) =>
        File.ReadAllLines(Fixtures.Path("segmentation", name)).Select(l => double.Parse(l, System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    [Test]
    public void TheDistanceTransformIsExactByHand()
    {
        // A row with its feature at the left end: 0, 1, 2, 3, 4.
        Assert.That(DistanceTransform.Distances([true, false, false, false, false], 1, 5), Is.EqualTo(new double[] { 0, 1, 2, 3, 4 }));
        // The centre of a 3×3: corners √2 away, edges 1.
        var centre = new bool[9];
        centre[4] = true;
        Assert.That(DistanceTransform.Squared(centre, 3, 3), Is.EqualTo(new double[] { 2, 1, 2, 1, 0, 1, 2, 1, 2 }));
        // Two features: each pixel takes the nearer one (a (0,0) and (3,4) pair: the middle pixel (2,2) is √5 and √8 away).
        var two = new bool[4 * 5];
        two[0] = two[3 * 5 + 4] = true;
        Assert.That(DistanceTransform.Squared(two, 4, 5)[2 * 5 + 2], Is.EqualTo(5));
        Assert.That(DistanceTransform.Squared(new bool[6], 2, 3), Is.All.EqualTo(double.PositiveInfinity), "no feature: infinitely far");
    }

    [Test]
    public void TheDistanceTransformMatchesScipy()
    {
        var masks = Load("masks_a.npy");
        var want = Float64("edt.txt");
        for (int k = 0; k < masks.Length / Plane; k++)
        {
            var feature = masks.AsSpan(k * Plane, Plane).ToArray().Select(v => v != 0).ToArray();
            // Exact: both are square roots of the same integer squared distances.
            Assert.That(DistanceTransform.Distances(feature, H, W), Is.EqualTo(want.AsSpan(k * Plane, Plane).ToArray()).Within(1e-12), $"mask {k}");
        }
    }

    [Test]
    public void DiceIouAndHd95MatchTheReferences()
    {
        var a = Load("masks_a.npy");
        var b = Load("masks_b.npy");
        var (dice, iou, hd) = (Float64("dice.txt"), Float64("iou.txt"), Float64("hd95.txt"));
        for (int k = 0; k < dice.Length; k++)
        {
            var t = a.AsSpan(k * Plane, Plane);
            var p = b.AsSpan(k * Plane, Plane);
            // Ratios of integer counts and a percentile of exact distances: equal to rounding.
            Assert.That(Dice.Compute(t, p), Is.EqualTo(dice[k]).Within(1e-12), $"Dice, pair {k}");
            Assert.That(Iou.Compute(t, p), Is.EqualTo(iou[k]).Within(1e-12), $"IoU, pair {k}");
            Assert.That(Hausdorff95.Compute(t, p, H, W), Is.EqualTo(hd[k]).Within(1e-9), $"HD95, pair {k}");
        }
    }

    [Test]
    public void Hd95ByHandAndItsEmptyMaskRules()
    {
        float[] Mask(params int[] on)
        {
            var m = new float[Plane];
            foreach (var i in on) m[i] = 1;
            return m;
        }
        // Single pixels 3 rows apart: every distance is 3.
        Assert.That(Hausdorff95.Compute(Mask(2 * W + 5), Mask(5 * W + 5), H, W), Is.EqualTo(3));
        var disc = Mask(Enumerable.Range(0, Plane).Where(i => Math.Pow(i / W - 6, 2) + Math.Pow(i % W - 8, 2) <= 9).ToArray());
        Assert.That(Hausdorff95.Compute(disc, disc, H, W), Is.EqualTo(0));
        Assert.That(Hausdorff95.Compute(new float[Plane], new float[Plane], H, W), Is.EqualTo(0), "both empty: nothing to find, nothing found");
        double diagonal = Math.Sqrt(H * H + W * W);
        Assert.That(Hausdorff95.Compute(disc, new float[Plane], H, W), Is.EqualTo(diagonal), "a missed lesion costs the diagonal");
        Assert.That(Hausdorff95.Compute(new float[Plane], disc, H, W), Is.EqualTo(diagonal), "an invented one too");
        Assert.That(Dice.Compute(new float[Plane], new float[Plane]), Is.EqualTo(1));
        Assert.That(Iou.Compute(new float[Plane], new float[Plane]), Is.EqualTo(1));
        Assert.That(Iou.Compute(disc, new float[Plane]), Is.EqualTo(0));
        // IoU = Dice / (2 − Dice) for any pair.
        var shifted = Mask(disc.Select((v, i) => (v, i)).Where(p => p.v != 0).Select(p => p.i + 1).ToArray());
        double d = Dice.Compute(disc, shifted);
        Assert.That(Iou.Compute(disc, shifted), Is.EqualTo(d / (2 - d)).Within(1e-12));
        Assert.That(() => Hausdorff95.Compute(disc, disc, H + 1, W), Throws.ArgumentException);
        Assert.That(() => Iou.Compute(disc, disc.Select(v => v / 2).ToArray()), Throws.ArgumentException, "not a 0/1 mask");
    }

    [Test]
    public void PercentileIsNumpysLinearRule()
    {
        // numpy.percentile([1, 2, 3, 4, 10], 95) = 4 + 0.8·6 = 8.8.
        Assert.That(Hausdorff95.Percentile([10, 1, 3, 2, 4], 95), Is.EqualTo(8.8).Within(1e-12));
        Assert.That(Hausdorff95.Percentile([7], 95), Is.EqualTo(7));
    }

    [Test]
    public void OtsuMatchesScikitImage()
    {
        var images = Load("otsu_images.npy");
        var want = Float64("otsu.txt");
        for (int k = 0; k < want.Length; k++)
            // The same histogram and split; NumPy keeps a float32 image's bin edges (and so the returned centre) in
            // float32, this code in float64: equal to float32 rounding of values in [0, 1].
            Assert.That(Otsu.Threshold(images.AsSpan(k * Plane, Plane)), Is.EqualTo(want[k]).Within(1e-7), $"image {k}");
        // By hand: two values in equal parts split after the first bin (its centre, 1/512 of the range).
        Assert.That(Otsu.Threshold([0, 1, 0, 1]), Is.EqualTo(1.0 / 512).Within(1e-15));
        Assert.That(Otsu.Threshold([0.3f, 0.3f]), Is.EqualTo(0.3f), "one value: that value");
        Assert.That(Otsu.Segment([0, 1, 0, 1], 1), Is.EqualTo(new float[] { 0, 1, 0, 1 }));
    }

    [Test]
    public void RegionGrowingWithoutMarginIsScikitImagesHysteresis()
    {
        var images = Load("otsu_images.npy");
        var want = Load("hysteresis.npy");
        // Margin 0 keeps every pixel (depth ≥ 0), leaving plain hysteresis thresholding at (0.45, 0.75).
        Assert.That(RegionGrowing.Segment(images, 3, H, W, new RegionGrowingSettings(0.45, 0.75, 0)), Is.EqualTo(want));
    }

    [Test]
    public void TunedRegionGrowingDropsTheBrightRimAndFindsTheLesion()
    {
        // A "head": air, a bright rim (1.0), tissue 0.5, and a lesion disc of 0.8; the mask is the lesion alone.
        const int S = 24;
        var image = new float[S * S];
        var mask = new float[S * S];
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++)
            {
                double r = Math.Sqrt((y - 11.5) * (y - 11.5) + (x - 11.5) * (x - 11.5));
                image[y * S + x] = r > 11 ? 0 : r > 9 ? 1f : 0.5f;
                if ((y - 14) * (y - 14) + (x - 9) * (x - 9) <= 6) (image[y * S + x], mask[y * S + x]) = (0.8f, 1);
            }
        var (settings, dice) = RegionGrowing.Tune(image, mask, 1, S, S);
        Assert.That(dice, Is.EqualTo(1), $"tuned to {settings}");
        Assert.That(RegionGrowing.Segment(image, 1, S, S, settings), Is.EqualTo(mask));
        // Otsu on the same image takes the rim (and more): the reason the baseline is tuned.
        Assert.That(Dice.Compute(mask, Otsu.Segment(image, 1)), Is.LessThan(0.5));
    }

    [Test]
    public void HistogramMatchingMatchesScikitImageAndInterpolatesNewValues()
    {
        var source = Load("match_source.npy");
        var template = Load("match_template.npy");
        var want = Float64("matched.txt");
        var map = HistogramMatching.Fit(source, template);
        // Applied to the images it was fitted on: match_histograms itself (float64 results stored as float32 here).
        Assert.That(map.Apply(source).Select(v => (double)v), Is.EqualTo(want).Within(1e-6));
        // Between fitted values: linear; outside: the end values; monotone throughout.
        var fit = HistogramMatching.Fit([0f, 1f], [10f, 20f]);
        // Source 0 and 1 sit at quantiles ½ and 1, where the template has 10 and 20.
        Assert.That(fit.Apply([0f, 0.5f, 1f, -3f, 4f]), Is.EqualTo(new float[] { 10, 15, 20, 10, 20 }));
        var sweep = map.Apply(Enumerable.Range(-10, 130).Select(i => i / 100f).ToArray());
        Assert.That(sweep.Zip(sweep.Skip(1), (p, q) => q >= p), Is.All.True);
    }

    [Test]
    public void TheIntensityLookupIsTheConditionalMean()
    {
        // B = A² where A determines B: the lookup reproduces it to the bin width's curvature error.
        var a = Enumerable.Range(0, 4096).Select(i => i / 4095f).ToArray();
        var lookup = IntensityLookup.Fit(a, a.Select(v => v * v).ToArray());
        Assert.That(lookup.Apply([0.25f, 0.5f, 0.75f]), Is.EqualTo(new[] { 0.0625f, 0.25f, 0.5625f }).Within(1e-4));
        // Two B values per A value: the lookup gives their mean.
        var twice = a.Concat(a).ToArray();
        var b = a.Select(_ => 0.2f).Concat(a.Select(_ => 0.6f)).ToArray();
        Assert.That(IntensityLookup.Fit(twice, b).Apply([0.1f, 0.9f]), Is.EqualTo(new[] { 0.4f, 0.4f }).Within(1e-6));
    }
}
