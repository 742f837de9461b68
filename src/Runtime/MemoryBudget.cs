using System.Globalization;

namespace DiffusionKernels.Runtime;

/// <summary>
/// Checked sizes and memory checks made before allocating: a request that cannot fit (an element count past 64 bits or
/// past one array, or more bytes than the machine has) is an <see cref="InsufficientMemoryException"/> that says how
/// much was asked for and how much there is, instead of an overflow, a negative size or a machine brought to a crawl.
/// </summary>
public static class MemoryBudget
{
    /// <summary>
    /// Memory this process may use: the machine's physical memory, or the container's or GC's limit when lower. A run
    /// that needs more than this cannot succeed, whatever else is running.
    /// </summary>
    public static long HostBytes => GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    /// <summary>The product of <paramref name="dims"/> (each ≥ 0), checked.</summary>
    /// <param name="what">What is being sized, for the message.</param>
    /// <param name="dims">The dimensions.</param>
    /// <exception cref="InsufficientMemoryException">The product does not fit 64 bits.</exception>
    public static long Elements(string what, params long[] dims)
    {
        ArgumentNullException.ThrowIfNull(dims);
        long n = 1;
        foreach (var d in dims)
        {
            if (d < 0) throw new ArgumentOutOfRangeException(nameof(dims), $"{what}: dimension {d} is negative");
            try
            {
                n = checked(n * d);
            }
            catch (OverflowException)
            {
                throw new InsufficientMemoryException($"{what}: {string.Join(" × ", dims)} elements cannot even be counted in 64 bits");
            }
        }
        return n;
    }

    /// <summary>
    /// Checks that a host array of <paramref name="count"/> elements of <paramref name="elementBytes"/> bytes fits one
    /// .NET array and this machine's memory; returns the count as an array length.
    /// </summary>
    /// <exception cref="InsufficientMemoryException">It does not fit.</exception>
    public static int HostArray(string what, long count, int elementBytes = sizeof(float))
    {
        if (count > Array.MaxLength)
            throw new InsufficientMemoryException($"{what}: {count.ToString("N0", CultureInfo.InvariantCulture)} values are more than one array holds ({Array.MaxLength.ToString("N0", CultureInfo.InvariantCulture)})");
        EnsureHost(what, count * elementBytes);
        return (int)count;
    }

    /// <summary>Fails when <paramref name="bytes"/> exceed the memory this process may use (<see cref="HostBytes"/>).</summary>
    /// <exception cref="InsufficientMemoryException">They do.</exception>
    public static void EnsureHost(string what, long bytes)
    {
        long available = HostBytes;
        if (bytes > available)
            throw new InsufficientMemoryException($"{what} needs {Format(bytes)}, more than the {Format(available)} of memory this machine makes available");
    }

    /// <summary>Bytes in binary units: "512 B", "3.2 MiB", "37.3 GiB".</summary>
    public static string Format(long bytes) => bytes switch
    {
        < 1024 => $"{bytes} B",
        < 1L << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:F1} KiB"),
        < 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024):F1} MiB"),
        < 1L << 40 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024 * 1024):F1} GiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024 * 1024 * 1024):F1} TiB"),
    };
}
