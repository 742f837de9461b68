using DiffusionKernels.Runtime.IO;
using StbImageWriteSharp;

namespace DiffusionKernels.Cli.Images;

/// <summary>An RGB raster with the few drawing primitives plots need, saved as PNG atomically.</summary>
internal sealed class Canvas
{
    private readonly byte[] _rgb;

    public Canvas(int width, int height, (byte R, byte G, byte B) background)
    {
        Width = width;
        Height = height;
        _rgb = new byte[width * height * 3];
        FillRect(0, 0, width, height, background);
    }

    public int Width { get; }
    public int Height { get; }

    public void Set(int x, int y, (byte R, byte G, byte B) c)
    {
        if ((uint)x >= Width || (uint)y >= Height) return;
        int i = (y * Width + x) * 3;
        (_rgb[i], _rgb[i + 1], _rgb[i + 2]) = c;
    }

    public void FillRect(int x, int y, int w, int h, (byte R, byte G, byte B) c)
    {
        for (int j = y; j < y + h; j++)
            for (int i = x; i < x + w; i++) Set(i, j, c);
    }

    /// <summary>A line <paramref name="thickness"/> pixels wide; <paramref name="dash"/> &gt; 0 draws dashes of that length.</summary>
    public void Line(double x0, double y0, double x1, double y1, (byte R, byte G, byte B) c, int thickness = 1, int dash = 0)
    {
        double length = Math.Max(Math.Abs(x1 - x0), Math.Abs(y1 - y0));
        int steps = Math.Max(1, (int)Math.Ceiling(length));
        for (int s = 0; s <= steps; s++)
        {
            if (dash > 0 && s / dash % 2 == 1) continue;
            double t = (double)s / steps;
            int x = (int)Math.Round(x0 + t * (x1 - x0)), y = (int)Math.Round(y0 + t * (y1 - y0));
            FillRect(x - thickness / 2, y - thickness / 2, thickness, thickness, c);
        }
    }

    /// <summary>Text with its top-left corner at (x, y), in the built-in pixel font.</summary>
    public void Text(int x, int y, string text, (byte R, byte G, byte B) c, int scale = 1)
    {
        for (int k = 0; k < text.Length; k++)
            for (int gy = 0; gy < PixelFont.Height; gy++)
                for (int gx = 0; gx < PixelFont.Width; gx++)
                    if (PixelFont.Ink(text[k], gx, gy))
                        FillRect(x + (k * PixelFont.Advance + gx) * scale, y + gy * scale, scale, scale, c);
    }

    public void SavePng(string path) =>
        AtomicFile.Write(path, s => new StbImageWriteSharp.ImageWriter().WritePng(_rgb, Width, Height, ColorComponents.RedGreenBlue, s));
}
