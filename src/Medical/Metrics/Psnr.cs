namespace DiffusionKernels.Medical.Metrics;

/// <summary>Peak signal-to-noise ratio 10·log10(R² / MSE) in dB, R the data range.</summary>
public static class Psnr
{
    /// <summary>
    /// PSNR of <paramref name="test"/> against <paramref name="reference"/>; R = <paramref name="dataRange"/>, or
    /// max − min of the reference when null. Identical images give +∞.
    /// </summary>
    public static double Compute(ReadOnlySpan<float> reference, ReadOnlySpan<float> test, double? dataRange = null)
    {
        ImageMetricChecks.SameLength("psnr", reference, test);
        double range = ImageMetricChecks.Range("psnr", reference, dataRange);
        double mse = MeanSquaredError(reference, test);
        return mse == 0 ? double.PositiveInfinity : 10 * Math.Log10(range * range / mse);
    }

    /// <summary>Mean of (test − reference)², in double.</summary>
    public static double MeanSquaredError(ReadOnlySpan<float> reference, ReadOnlySpan<float> test)
    {
        ImageMetricChecks.SameLength("mse", reference, test);
        double sum = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            double d = (double)test[i] - reference[i];
            sum += d * d;
        }
        return sum / reference.Length;
    }
}
