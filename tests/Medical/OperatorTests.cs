using DiffusionKernels.Medical.Inverse;
using DiffusionKernels.Medical.Operators;
using DiffusionKernels.Runtime;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Medical;

public class OperatorTests
{
    private static double Dot(float[] a, float[] b) => a.Zip(b, (x, y) => (double)x * y).Sum();

    private static float[] Apply(Backend b, Action<Tensor, Tensor> map, float[] input, Shape inShape, Shape outShape)
    {
        using var i = b.Upload(input, inShape);
        using var o = b.Allocate(outShape);
        map(i, o);
        return o.ToArray();
    }

    /// <summary>A random 0/1 mask with about half ones.</summary>
    private static float[] RandomMask(int n, int seed) => TestData.Uniform(n, seed, 0, 1).Select(v => v < 0.5f ? 0f : 1f).ToArray();

    /// <summary>Operators under test with their image shape, on the given backend.</summary>
    private static IEnumerable<(string Name, Func<Backend, ILinearOperator> Make, int[] Image)> Cases() =>
    [
        ("identity", b => new IdentityOperator(b), [2, 3, 5, 7]),
        ("mask shared", b => new MaskOperator(b, RandomMask(35, 1), new Shape(5, 7)), [2, 3, 5, 7]),
        ("mask per sample", b => new MaskOperator(b, RandomMask(70, 2), new Shape(2, 1, 5, 7)), [2, 3, 5, 7]),
        ("box x2", b => new BoxDownsample(b, 2), [2, 3, 6, 10]),
        ("box x4", b => new BoxDownsample(b, 4), [2, 1, 8, 12]),
        ("mri random 4x", b => new CartesianMri(b, MriMasks.Random(16, 8, 4, 7), new Shape(16, 8)), [2, 1, 16, 8]),
        ("mri equispaced 8x", b => new CartesianMri(b, MriMasks.Equispaced(32, 6, 8, 3), new Shape(32, 6)), [1, 1, 32, 6]),
        ("mri 2-D random mask", b => new CartesianMri(b, RandomMask(63, 3), new Shape(7, 9)), [2, 1, 7, 9]),
        ("mri per-sample mask", b => new CartesianMri(b, RandomMask(2 * 48, 4), new Shape(2, 1, 8, 6)), [2, 1, 8, 6]),
        ("mri complex images", b => new CartesianMri(b, MriMasks.Random(16, 8, 4, 9), new Shape(16, 8), complexImages: true), [2, 2, 16, 8]),
    ];

    private static IEnumerable<TestCaseData> Named() =>
        Cases().SelectMany(c => new[] { "cpu", "ilgpu-cpu", "cuda" }.Select(d =>
        {
            var data = new TestCaseData(c.Name, d).SetName($"{c.Name} on {d}");
            return d == "cuda" ? data.SetCategory(GpuTargets.Category) : data;
        }));

    private static (ILinearOperator Op, Backend B, Shape X, Shape Y) Make(string name, string device)
    {
        var c = Cases().Single(c => c.Name == name);
        Backend b = TestBackends.Get(device);
        var op = c.Make(b);
        var x = new Shape(c.Image);
        return (op, b, x, op.MeasurementShape(x));
    }

    [TestCaseSource(nameof(Named))]
    public void Adjoint_satisfies_inner_product_identity(string name, string device)
    {
        var (op, b, xs, ys) = Make(name, device);
        using var _ = op;
        var x = TestData.Normal(xs.Length, 11);
        var y = TestData.Normal(ys.Length, 12);
        var ax = Apply(b, op.Forward, x, xs, ys);
        var aty = Apply(b, op.Adjoint, y, ys, xs);
        double lhs = Dot(ax, y), rhs = Dot(x, aty);
        Assert.That(lhs, Is.EqualTo(rhs).Within(1e-5 * (Math.Abs(lhs) + Math.Sqrt(xs.Length))), $"<Ax,y>={lhs} <x,Aᵀy>={rhs}");
    }

    [TestCaseSource(nameof(Named))]
    public void Pseudo_inverse_satisfies_penrose_identities(string name, string device)
    {
        var (op, b, xs, ys) = Make(name, device);
        using var _ = op;
        var x = TestData.Normal(xs.Length, 13);
        var y = TestData.Normal(ys.Length, 14);
        var ax = Apply(b, op.Forward, x, xs, ys);
        var apax = Apply(b, op.Forward, Apply(b, op.PseudoInverse, ax, ys, xs), xs, ys);
        Close.Assert(ax, apax, 1e-5, "A A⁺ A = A");
        var apy = Apply(b, op.PseudoInverse, y, ys, xs);
        var apapy = Apply(b, op.PseudoInverse, Apply(b, op.Forward, apy, xs, ys), ys, xs);
        Close.Assert(apy, apapy, 1e-5, "A⁺ A A⁺ = A⁺");
        // A⁺A is symmetric (an orthogonal projection): <A⁺A x, x'> = <x, A⁺A x'>.
        var x2 = TestData.Normal(xs.Length, 15);
        var papx2 = Apply(b, op.PseudoInverse, Apply(b, op.Forward, x2, xs, ys), ys, xs);
        var papx = Apply(b, op.PseudoInverse, ax, ys, xs);
        Assert.That(Dot(papx, x2), Is.EqualTo(Dot(x, papx2)).Within(1e-4));
    }

    [Test]
    public void Cpu_and_ilgpu_operators_agree()
    {
        foreach (var c in Cases())
        {
            var (cop, cb, xs, ys) = Make(c.Name, "cpu");
            var (gop, gb, _, _) = Make(c.Name, "ilgpu-cpu");
            using (cop)
            using (gop)
            {
                var x = TestData.Normal(xs.Length, 16);
                var y = TestData.Normal(ys.Length, 17);
                Close.Assert(Apply(cb, cop.Forward, x, xs, ys), Apply(gb, gop.Forward, x, xs, ys), 2e-5, $"{c.Name} forward");
                Close.Assert(Apply(cb, cop.Adjoint, y, ys, xs), Apply(gb, gop.Adjoint, y, ys, xs), 2e-5, $"{c.Name} adjoint");
                Close.Assert(Apply(cb, cop.PseudoInverse, y, ys, xs), Apply(gb, gop.PseudoInverse, y, ys, xs), 2e-5, $"{c.Name} pseudo-inverse");
            }
        }
    }

    [Test]
    public void Mri_forward_is_masked_fft_and_symmetric_mask_pinv_is_adjoint()
    {
        var b = TestBackends.Cpu;
        // Point-symmetric row mask: rows 0, 1, 7 (mirror of 1) and 4 (its own mirror) of 8.
        var mask = new float[8 * 4];
        foreach (int r in new[] { 0, 1, 4, 7 }) mask.AsSpan(r * 4, 4).Fill(1f);
        using var op = new CartesianMri(b, mask, new Shape(8, 4));
        Assert.That(op.PseudoInverseWeights.ToArray(), Is.EqualTo(mask));
        var x = TestData.Normal(32, 18);
        var k = Apply(b, op.Forward, x, new Shape(1, 1, 8, 4), new Shape(1, 2, 8, 4));
        using var xt = b.Upload(x, new Shape(1, 1, 8, 4));
        using var full = b.Allocate(1, 2, 8, 4);
        b.Fft2dComplex(xt, full, false);
        var f = full.ToArray();
        for (int i = 0; i < 64; i++) Assert.That(k[i], Is.EqualTo(f[i] * mask[i % 32]).Within(1e-6));

        // An unpaired line gets weight 2 in the pseudo-inverse.
        var lone = new float[8 * 4];
        lone.AsSpan(4, 4).Fill(1f);
        using var op2 = new CartesianMri(b, lone, new Shape(8, 4));
        Assert.That(op2.PseudoInverseWeights.ToArray().Max(), Is.EqualTo(2f));
    }

    [Test]
    public void Bad_masks_and_shapes_name_the_argument()
    {
        var b = TestBackends.Cpu;
        var e = Assert.Throws<ArgumentException>(() => new MaskOperator(b, [0f, 0.5f, 1f, 1f], new Shape(2, 2)))!;
        Assert.That(e.Message, Does.Contain("mask").And.Contain("0.5"));
        Assert.Throws<ArgumentException>(() => new CartesianMri(b, [0f, 2f, 1f, 1f], new Shape(2, 2)));
        Assert.Throws<ShapeMismatchException>(() => new CartesianMri(b, new float[8], new Shape(2, 2, 2)));
        using var mri = new CartesianMri(b, MriMasks.Random(8, 8, 4, 1, 0.125), new Shape(8, 8));
        var s = Assert.Throws<ShapeMismatchException>(() => mri.MeasurementShape(new Shape(1, 3, 8, 8)))!;
        Assert.That(s.Message, Does.Contain("cartesian mri").And.Contain("image x"));
        using var x = b.Allocate(1, 1, 8, 8);
        using var wrong = b.Allocate(1, 1, 8, 8);
        s = Assert.Throws<ShapeMismatchException>(() => mri.Forward(x, wrong))!;
        Assert.That(s.Message, Does.Contain("measurement y"));
        using var box = new BoxDownsample(b, 4);
        s = Assert.Throws<ShapeMismatchException>(() => box.MeasurementShape(new Shape(1, 1, 8, 10)))!;
        Assert.That(s.Message, Does.Contain("multiples of 4"));
        Assert.Throws<ArgumentOutOfRangeException>(() => new BoxDownsample(b, 3));
        using var m = new MaskOperator(b, new float[12], new Shape(3, 4));
        Assert.Throws<ShapeMismatchException>(() => m.MeasurementShape(new Shape(1, 1, 4, 3)));
    }

    [TestCaseSource(typeof(GpuTargets), nameof(GpuTargets.AllDevices))]
    public void Mask_multiply_and_channel_copy_match_loops(string device)
    {
        Backend b = TestBackends.Get(device);
        int n = 3, c = 2, h = 5, w = 7;
        var x = TestData.Normal(n * c * h * w, 19);
        var m = TestData.Uniform(n * h * w, 20);
        var y = Apply(b, (i, o) => { using var mt = b.Upload(m, new Shape(n, 1, h, w)); b.MultiplyMask(i, mt, o); }, x, new Shape(n, c, h, w), new Shape(n, c, h, w));
        for (int i = 0; i < x.Length; i++) Assert.That(y[i], Is.EqualTo(x[i] * m[i / (c * h * w) * h * w + i % (h * w)]));
        using var xt = b.Upload(x, new Shape(n, c, h, w));
        using var z = b.Allocate(n, 3, h, w);
        b.Fill(z, 7f);
        b.CopyChannels(xt, 1, z, 2, 1);
        var za = z.ToArray();
        for (int s = 0; s < n; s++)
            for (int i = 0; i < h * w; i++)
            {
                Assert.That(za[(s * 3 + 2) * h * w + i], Is.EqualTo(x[(s * c + 1) * h * w + i]));
                Assert.That(za[(s * 3 + 0) * h * w + i], Is.EqualTo(7f));
            }
    }
}
