namespace DiffusionKernels.Samplers.Solvers;

/// <summary>The newest-first histories of multistep solvers.</summary>
internal static class History
{
    /// <summary>Shifts every entry one place older and moves the oldest to slot 0, so its tensor is reused for the newest.</summary>
    public static void Rotate<T>(T[] items)
    {
        var oldest = items[^1];
        Array.Copy(items, 0, items, 1, items.Length - 1);
        items[0] = oldest;
    }
}
