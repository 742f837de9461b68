using System.Numerics;
using MathNet.Numerics.IntegralTransforms;

namespace DiffusionKernels.Medical.Quality;

/// <summary>2-D FFT of a row-major [height, width] array by 1-D MathNet transforms over rows, then columns
/// (MathNet's managed provider has no multi-dimensional transform).</summary>
public static class Fft2D
{
    public static void Forward(Complex[] data, int height, int width, FourierOptions options = FourierOptions.Default)
    {
        var row = new Complex[width];
        for (int y = 0; y < height; y++)
        {
            Array.Copy(data, y * width, row, 0, width);
            Fourier.Forward(row, options);
            Array.Copy(row, 0, data, y * width, width);
        }
        var col = new Complex[height];
        for (int x = 0; x < width; x++)
        {
            for (int y = 0; y < height; y++) col[y] = data[y * width + x];
            Fourier.Forward(col, options);
            for (int y = 0; y < height; y++) data[y * width + x] = col[y];
        }
    }
}
