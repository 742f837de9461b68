using System.Diagnostics;
using System.Globalization;

namespace DiffusionKernels.Cli;

/// <summary>
/// Progress of a dataset run as plain lines (they read the same on a terminal and in a Kubernetes or Slurm log):
/// samples done of the total, chunks written, images/s over this run, and the time left at that rate. A line is
/// printed after every chunk and, within long chunks, at most every <see cref="Interval"/>.
/// </summary>
internal sealed class DatasetProgress
{
    /// <summary>Least time between two lines within a chunk.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(10);

    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly TextWriter _out;
    private readonly long _total, _resumed;
    private readonly int _chunks;
    private TimeSpan _lastLine;

    /// <summary>Starts the clock for a range of <paramref name="total"/> samples in <paramref name="chunks"/> chunks, of which <paramref name="chunksDone"/> (<paramref name="resumed"/> samples) are already written.</summary>
    public DatasetProgress(TextWriter output, long total, int chunks, long resumed, int chunksDone)
    {
        _out = output;
        _total = total;
        _chunks = chunks;
        _resumed = resumed;
        Done = resumed;
        ChunksDone = chunksDone;
    }

    /// <summary>Samples written so far, the resumed ones included.</summary>
    public long Done { get; private set; }

    /// <summary>Chunks written so far, the resumed ones included.</summary>
    public int ChunksDone { get; private set; }

    /// <summary>Samples per second drawn by this run (0 before the first).</summary>
    public double Rate => (Done - _resumed) / Math.Max(1e-9, _clock.Elapsed.TotalSeconds);

    /// <summary>Seconds since the run started.</summary>
    public double Seconds => _clock.Elapsed.TotalSeconds;

    /// <summary>Within a chunk: <paramref name="inChunk"/> of its samples are drawn; prints a line when <see cref="Interval"/> has passed.</summary>
    public void Drawing(int inChunk)
    {
        if (_clock.Elapsed - _lastLine < Interval) return;
        Line(Done + inChunk);
    }

    /// <summary>A chunk of <paramref name="count"/> samples was written: prints a line.</summary>
    public void Written(int count)
    {
        Done += count;
        ChunksDone++;
        Line(Done);
    }

    private void Line(long done)
    {
        _lastLine = _clock.Elapsed;
        double rate = (done - _resumed) / Math.Max(1e-9, _clock.Elapsed.TotalSeconds);
        string eta = rate > 0 ? Duration((_total - done) / rate) : "–";
        _out.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"  samples {done:N0}/{_total:N0} ({100.0 * done / Math.Max(1, _total):F1}%) | chunks {ChunksDone}/{_chunks} | {rate:F2} images/s | ETA {eta}"));
        _out.Flush();
    }

    /// <summary>"2h 05m", "3m 07s", "12 s".</summary>
    public static string Duration(double seconds)
    {
        if (!double.IsFinite(seconds)) return "–";
        var t = TimeSpan.FromSeconds(Math.Max(0, Math.Round(seconds)));
        return t.TotalHours >= 1 ? $"{(int)t.TotalHours}h {t.Minutes:D2}m" : t.TotalMinutes >= 1 ? $"{t.Minutes}m {t.Seconds:D2}s" : $"{t.Seconds} s";
    }
}
