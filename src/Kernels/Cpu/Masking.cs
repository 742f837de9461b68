using System.Numerics;

namespace DiffusionKernels.Kernels.Cpu;

/// <summary>
/// Measurement-operator helpers over [batch, channels, spatial] data: multiplying by a spatial mask broadcast over
/// channels (and over the batch when the mask is shared), and copying a run of channels between tensors.
/// </summary>
internal static class Masking
{
    private const int ParallelThreshold = 1 << 16;

    /// <summary>
    /// y[b, c, s] = x[b, c, s]·m[b', s] with b' = b when <paramref name="maskPerSample"/>, else 0; y may be x.
    /// </summary>
    public static void MultiplyMask(ReadOnlySpan<float> x, ReadOnlySpan<float> mask, Span<float> y, int batch, int channels, int spatial, bool maskPerSample)
    {
        long planes = (long)batch * channels;
        unsafe
        {
            fixed (float* px = x, pm = mask, py = y)
            {
                nint xp = (nint)px, mp = (nint)pm, yp = (nint)py;
                void Plane(int p)
                {
                    long at = (long)p * spatial;
                    var m = new ReadOnlySpan<float>((float*)mp + (maskPerSample ? (long)(p / channels) * spatial : 0), spatial);
                    Multiply(new ReadOnlySpan<float>((float*)xp + at, spatial), m, new Span<float>((float*)yp + at, spatial));
                }
                if (planes > 1 && x.Length >= ParallelThreshold) Parallel.For(0, (int)planes, Plane);
                else for (int p = 0; p < planes; p++) Plane(p);
            }
        }
    }

    private static void Multiply(ReadOnlySpan<float> x, ReadOnlySpan<float> m, Span<float> y)
    {
        int i = 0, n = Vector<float>.Count;
        for (; i <= x.Length - n; i += n) (new Vector<float>(x.Slice(i)) * new Vector<float>(m.Slice(i))).CopyTo(y.Slice(i));
        for (; i < x.Length; i++) y[i] = x[i] * m[i];
    }

    /// <summary>
    /// y[b, yFirst + k, s] = x[b, xFirst + k, s] for k &lt; count; x [batch, xChannels, spatial], y [batch, yChannels, spatial].
    /// </summary>
    public static void CopyChannels(ReadOnlySpan<float> x, Span<float> y, int batch, int spatial, int xChannels, int xFirst, int yChannels, int yFirst, int count)
    {
        int run = count * spatial;
        for (int b = 0; b < batch; b++)
            x.Slice((int)(((long)b * xChannels + xFirst) * spatial), run).CopyTo(y.Slice((int)(((long)b * yChannels + yFirst) * spatial), run));
    }
}
