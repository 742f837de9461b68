namespace DiffusionKernels.Runtime.Plan;

/// <summary>
/// Places values with known lifetimes [first, last] step into one arena so that values alive at the same
/// time never overlap: largest first, each at the lowest offset that clears every placed value whose
/// lifetime intersects its own. Returns the arena size in elements.
/// </summary>
internal static class ArenaPlanner
{
    /// <summary>Alignment of every offset, in elements (64 floats = 256 bytes keeps GPU loads aligned).</summary>
    public const int Alignment = 64;

    public static long Place(IReadOnlyList<(long Size, int First, int Last)> values, long[] offsets)
    {
        var order = Enumerable.Range(0, values.Count).OrderByDescending(i => values[i].Size).ThenBy(i => values[i].First).ToArray();
        var placed = new List<int>();
        long arena = 0;
        foreach (var i in order)
        {
            var (size, first, last) = values[i];
            var busy = placed.Where(j => values[j].First <= last && first <= values[j].Last)
                .Select(j => (Start: offsets[j], End: offsets[j] + Align(values[j].Size)))
                .OrderBy(r => r.Start).ToList();
            long offset = 0;
            foreach (var (start, end) in busy)
            {
                if (offset + size <= start) break;
                offset = Math.Max(offset, end);
            }
            offsets[i] = offset;
            placed.Add(i);
            arena = Math.Max(arena, offset + Align(size));
        }
        return arena;
    }

    private static long Align(long n) => (n + Alignment - 1) / Alignment * Alignment;
}
