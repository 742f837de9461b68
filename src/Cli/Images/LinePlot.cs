using System.Globalization;

namespace DiffusionKernels.Cli.Images;

/// <summary>One curve of a plot.</summary>
internal sealed record PlotSeries(string Name, IReadOnlyList<(double X, double Y)> Points);

/// <summary>A horizontal reference line (a baseline).</summary>
internal sealed record PlotLevel(string Name, double Y);

/// <summary>Log-log line plots (quality against NFE) written as PNG, with axes, ticks, a legend and reference lines.</summary>
internal static class LinePlot
{
    private static readonly (byte, byte, byte)[] Palette =
        [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)];
    private static readonly (byte, byte, byte) Ink = (30, 30, 30), Grid = (225, 225, 225), White = (255, 255, 255);

    public static void SaveLogLog(string path, string title, string xLabel, string yLabel, IReadOnlyList<PlotSeries> series, IReadOnlyList<PlotLevel> levels)
    {
        var points = series.SelectMany(s => s.Points).Where(p => p.X > 0 && p.Y > 0).ToList();
        if (points.Count == 0) throw new ArgumentException("nothing to plot: no positive points");
        var ys = points.Select(p => p.Y).Concat(levels.Where(l => l.Y > 0).Select(l => l.Y)).ToList();
        double x0 = Math.Floor(Math.Log10(points.Min(p => p.X))), x1 = Math.Ceiling(Math.Log10(points.Max(p => p.X)));
        double y0 = Math.Floor(Math.Log10(ys.Min())), y1 = Math.Ceiling(Math.Log10(ys.Max()));
        if (x1 <= x0) x1 = x0 + 1;
        if (y1 <= y0) y1 = y0 + 1;

        const int width = 900, height = 600, left = 90, right = 230, top = 75, bottom = 70;
        var c = new Canvas(width, height, White);
        int pw = width - left - right, ph = height - top - bottom;
        double Px(double x) => left + (Math.Log10(x) - x0) / (x1 - x0) * pw;
        double Py(double y) => top + ph - (Math.Log10(y) - y0) / (y1 - y0) * ph;

        // Grid at 1, 2, 5 per decade; labels at each.
        foreach (var (v, isX) in Ticks(x0, x1).Select(v => (v, true)).Concat(Ticks(y0, y1).Select(v => (v, false))))
        {
            string label = v.ToString("G3", CultureInfo.InvariantCulture);
            if (isX)
            {
                c.Line(Px(v), top, Px(v), top + ph, Grid);
                c.Text((int)Px(v) - PixelFont.Measure(label) / 2, top + ph + 8, label, Ink);
            }
            else
            {
                c.Line(left, Py(v), left + pw, Py(v), Grid);
                c.Text(left - 8 - PixelFont.Measure(label), (int)Py(v) - 3, label, Ink);
            }
        }
        c.Line(left, top, left, top + ph, Ink);
        c.Line(left, top + ph, left + pw, top + ph, Ink);
        // The title and the y label sit on separate rows above the plot so that a long one never runs into the other.
        c.Text((width - right + left - PixelFont.Measure(title, 2)) / 2, 12, title, Ink, 2);
        c.Text(left + (pw - PixelFont.Measure(xLabel, 2)) / 2, height - 30, xLabel, Ink, 2);
        c.Text(10, top - 28, yLabel, Ink, 2);

        int legendY = top;
        void Legend(string name, (byte, byte, byte) color, bool dashed)
        {
            c.Line(width - right + 15, legendY + 3, width - right + 40, legendY + 3, color, 3, dashed ? 4 : 0);
            c.Text(width - right + 48, legendY, name, Ink);
            legendY += 16;
        }
        for (int k = 0; k < levels.Count; k++)
        {
            if (levels[k].Y <= 0) continue;
            var color = k == 0 ? ((byte)90, (byte)90, (byte)90) : ((byte)160, (byte)160, (byte)160);
            c.Line(left, Py(levels[k].Y), left + pw, Py(levels[k].Y), color, 2, 6);
            Legend(levels[k].Name, color, true);
        }
        for (int k = 0; k < series.Count; k++)
        {
            var color = Palette[k % Palette.Length];
            var pts = series[k].Points.Where(p => p.X > 0 && p.Y > 0).OrderBy(p => p.X).ToList();
            for (int i = 0; i + 1 < pts.Count; i++) c.Line(Px(pts[i].X), Py(pts[i].Y), Px(pts[i + 1].X), Py(pts[i + 1].Y), color, 2);
            foreach (var p in pts) c.FillRect((int)Px(p.X) - 3, (int)Py(p.Y) - 3, 7, 7, color);
            Legend(series[k].Name, color, false);
        }
        c.SavePng(path);
    }

    private static IEnumerable<double> Ticks(double lo, double hi)
    {
        for (double d = lo; d < hi; d++)
            foreach (var m in new[] { 1.0, 2.0, 5.0 })
                yield return m * Math.Pow(10, d);
        yield return Math.Pow(10, hi);
    }
}
