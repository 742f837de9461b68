namespace DiffusionKernels.Kernels.Cpu;

/// <summary>
/// diffusers' sinusoidal timestep embedding (<c>get_timestep_embedding</c>), reproducing PyTorch's float32
/// rounding steps: eᵢ = f32(f32(−ln maxPeriod)·i) / f32(half − shift), freqᵢ = f32(exp eᵢ),
/// arg = f32(scale·f32(t·freqᵢ)), then sin/cos of that float. exp, sin and cos are evaluated in double and
/// rounded once, so each is the correctly rounded float (PyTorch's own float exp/sin/cos are within 1 ulp of it).
/// </summary>
internal static class TimestepEmbedding
{
    /// <summary>
    /// y [rows, dim] from timesteps [rows]: columns [0, half) hold sin and [half, 2·half) cos (swapped when
    /// <paramref name="flipSinToCos"/>); an odd dim gets a zero last column.
    /// </summary>
    public static void Compute(ReadOnlySpan<float> timesteps, Span<float> y, int dim, bool flipSinToCos, float downscaleFreqShift, float scale, float maxPeriod)
    {
        int half = dim / 2;
        var (negLogMaxPeriod, divisor) = Constants(half, downscaleFreqShift, maxPeriod);
        int sinColumn = flipSinToCos ? half : 0, cosColumn = flipSinToCos ? 0 : half;
        for (int i = 0; i < half; i++)
        {
            float frequency = Frequency(negLogMaxPeriod, i, divisor);
            for (int r = 0; r < timesteps.Length; r++)
            {
                float arg = scale * (timesteps[r] * frequency);
                y[r * dim + sinColumn + i] = (float)Math.Sin(arg);
                y[r * dim + cosColumn + i] = (float)Math.Cos(arg);
            }
        }
        if (dim % 2 == 1)
            for (int r = 0; r < timesteps.Length; r++) y[r * dim + dim - 1] = 0f;
    }

    /// <summary>
    /// The float32 scalars PyTorch forms from its Python arguments: −ln(maxPeriod) (a double, then float) and
    /// half − shift (exact, then float). The GPU kernel receives the same two values.
    /// </summary>
    public static (float NegLogMaxPeriod, float Divisor) Constants(int half, float downscaleFreqShift, float maxPeriod) =>
        ((float)-Math.Log(maxPeriod), (float)(half - (double)downscaleFreqShift));

    /// <summary>freqᵢ = f32(exp(f32(f32(negLogMaxPeriod·i) / divisor))).</summary>
    public static float Frequency(float negLogMaxPeriod, int i, float divisor)
    {
        float exponent = negLogMaxPeriod * i;
        exponent /= divisor;
        return (float)Math.Exp(exponent);
    }
}
