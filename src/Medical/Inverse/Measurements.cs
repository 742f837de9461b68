using DiffusionKernels.Medical.Operators;
using DiffusionKernels.Runtime;

namespace DiffusionKernels.Medical.Inverse;

/// <summary>Simulating measurements and checking estimates against them, on host arrays.</summary>
public static class Measurements
{
    /// <summary>
    /// y = A·x + σ_y·n for images x [N, ...] (any units): Gaussian noise of std <paramref name="sigma"/> on the observed
    /// entries only (where <paramref name="maskForNoise"/> is 1, if given), keyed by <paramref name="seed"/>.
    /// Returns y and its shape.
    /// </summary>
    public static (float[] Y, int[] Shape) Simulate(Backend backend, ILinearOperator op, ReadOnlySpan<float> x, Shape shape, double sigma, ulong seed, Tensor? maskForNoise = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(op);
        if (!(sigma >= 0) || !double.IsFinite(sigma)) throw new ArgumentOutOfRangeException(nameof(sigma), $"measurement: noise σ must be finite and ≥ 0, found {sigma}");
        using var xt = backend.Upload(x, shape);
        var ys = op.MeasurementShape(shape);
        using var y = backend.Allocate(ys);
        op.Forward(xt, y);
        if (sigma > 0)
        {
            using var n = backend.Allocate(ys);
            backend.RandomNormal(n, seed ^ 0x4D45415355524Eul);
            if (maskForNoise is not null) backend.MultiplyMask(n, maskForNoise, n);
            backend.LinearCombination(y, [y, n], [1f, (float)sigma]);
        }
        return (y.ToArray(), ys.ToArray());
    }

    /// <summary>y = A·x without noise.</summary>
    public static float[] Apply(Backend backend, ILinearOperator op, ReadOnlySpan<float> x, Shape shape) => Simulate(backend, op, x, shape, 0, 0).Y;

    /// <summary>x = Aᵀ·y for measurements y of images of <paramref name="imageShape"/>.</summary>
    public static float[] Adjoint(Backend backend, ILinearOperator op, ReadOnlySpan<float> y, Shape imageShape)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(op);
        using var yt = backend.Upload(y, op.MeasurementShape(imageShape));
        using var xt = backend.Allocate(imageShape);
        op.Adjoint(yt, xt);
        return xt.ToArray();
    }

    /// <summary>
    /// The relative measurement residual ‖A·xₙ − yₙ‖/‖yₙ‖ of each image of <paramref name="x"/> [N, ...] (the units of
    /// y): how far an estimate is from explaining its data (fp32 round-off ≈ 1e-7 for an exactly consistent one).
    /// </summary>
    public static double[] RelativeResidual(Backend backend, ILinearOperator op, ReadOnlySpan<float> x, ReadOnlySpan<float> y, Shape shape)
    {
        var ax = Apply(backend, op, x, shape);
        if (ax.Length != y.Length) throw new ShapeMismatchException($"residual: the measurement holds {y.Length} values, A·x gives {ax.Length}");
        int n = shape[0], per = ax.Length / n;
        var result = new double[n];
        for (int k = 0; k < n; k++)
        {
            double num = 0, den = 0;
            for (int i = k * per; i < (k + 1) * per; i++)
            {
                double d = (double)ax[i] - y[i];
                num += d * d;
                den += (double)y[i] * y[i];
            }
            result[k] = den > 0 ? Math.Sqrt(num / den) : Math.Sqrt(num);
        }
        return result;
    }

    /// <summary>A 0/1 known-pixel mask [count, 1, h, w]: 0 inside a centred square covering <paramref name="area"/> of the image.</summary>
    public static float[] CentredBoxMask(int count, int h, int w, double area)
    {
        if (!(area > 0 && area < 1)) throw new ArgumentOutOfRangeException(nameof(area), $"box mask: the area must be in (0, 1), found {area}");
        int bh = Math.Max(1, (int)Math.Round(h * Math.Sqrt(area))), bw = Math.Max(1, (int)Math.Round(w * Math.Sqrt(area)));
        int top = (h - bh) / 2, left = (w - bw) / 2;
        var m = new float[checked(count * h * w)];
        Array.Fill(m, 1f);
        for (int k = 0; k < count; k++)
            for (int y = top; y < top + bh; y++)
                for (int x = left; x < left + bw; x++)
                    m[(k * h + y) * w + x] = 0f;
        return m;
    }

    /// <summary>Model units (data·2 − 1) from [0, 1] images.</summary>
    public static float[] ToModel(ReadOnlySpan<float> x)
    {
        var y = new float[x.Length];
        for (int i = 0; i < y.Length; i++) y[i] = 2 * x[i] - 1;
        return y;
    }

    /// <summary>[0, 1] image units from model units, not clamped (a clamp would break data consistency silently).</summary>
    public static float[] FromModel(ReadOnlySpan<float> x)
    {
        var y = new float[x.Length];
        for (int i = 0; i < y.Length; i++) y[i] = (x[i] + 1) / 2;
        return y;
    }
}
