namespace DiffusionKernels.Runtime;

public abstract partial class Backend
{
    /// <summary>
    /// Sinusoidal timestep embedding with diffusers' options: freqᵢ = exp(−ln(maxPeriod)·i / (half − shift)),
    /// arg = scale·t·freq, y = [sin, cos] or [cos, sin] when <paramref name="flipSinToCos"/>; an odd dim gets a zero last column.
    /// t [N] float32, y [N, dim].
    /// </summary>
    public void TimestepEmbedding(Tensor timesteps, Tensor y, bool flipSinToCos, float downscaleFreqShift, float scale = 1f, float maxPeriod = 10000f)
    {
        const string op = "timestep embedding";
        Check.Owned(this, op, timesteps, y);
        Check.Float(op, (timesteps, "timesteps"), (y, "output"));
        Check.Rank(op, timesteps, 1, "timesteps");
        Check.Rank(op, y, 2, "output");
        if (y.Shape[0] != timesteps.Shape[0]) throw ShapeMismatchException.For(op, $"output rows (timesteps {timesteps.Shape})", timesteps.Shape[0], y.Shape);
        if (y.Shape[1] < 2) throw ShapeMismatchException.For(op, "embedding dimension", "≥ 2", y.Shape);
        if (!Supports(BackendOp.TimestepEmbedding))
        {
            OnCpu([timesteps, y], [y], (cpu, m) => cpu.TimestepEmbedding(m[timesteps], m[y], flipSinToCos, downscaleFreqShift, scale, maxPeriod));
            return;
        }
        TimestepEmbeddingCore(timesteps, y, flipSinToCos, downscaleFreqShift, scale, maxPeriod);
    }

    private protected virtual void TimestepEmbeddingCore(Tensor timesteps, Tensor y, bool flipSinToCos, float downscaleFreqShift, float scale, float maxPeriod) => throw NotImplementedHere(BackendOp.TimestepEmbedding);
}
