namespace DiffusionKernels.Medical.Metrics;

/// <summary>Normalized mean squared error ‖x − r‖² / ‖r‖² (fastMRI's NMSE).</summary>
public static class Nmse
{
    /// <summary>NMSE of <paramref name="test"/> against a reference that is not all zero.</summary>
    public static double Compute(ReadOnlySpan<float> reference, ReadOnlySpan<float> test)
    {
        ImageMetricChecks.SameLength("nmse", reference, test);
        double num = 0, den = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            double d = (double)test[i] - reference[i];
            num += d * d;
            den += (double)reference[i] * reference[i];
        }
        if (den == 0) throw new ArgumentException("nmse: the reference is all zero", nameof(reference));
        return num / den;
    }
}
