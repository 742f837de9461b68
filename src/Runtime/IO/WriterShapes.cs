namespace DiffusionKernels.Runtime.IO;

/// <summary>Checks of the shapes callers hand to the writers.</summary>
internal static class WriterShapes
{
    /// <summary>The element count of <paramref name="shape"/>; negative or overflowing dimensions are an <see cref="ArgumentException"/>.</summary>
    public static long ElementCount(int[] shape)
    {
        long n = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException($"shape {Shape.Format(shape)} has a negative dimension", nameof(shape));
            try
            {
                n = checked(n * d);
            }
            catch (OverflowException)
            {
                throw new ArgumentException($"shape {Shape.Format(shape)} has more elements than a long can count", nameof(shape));
            }
        }
        return n;
    }
}
