namespace DiffusionKernels.Runtime;

/// <summary>An immutable tensor shape (row-major, NCHW for images).</summary>
public sealed class Shape : IEquatable<Shape>
{
    private readonly int[] _dims;

    /// <summary>Creates a shape; every dimension must be positive.</summary>
    public Shape(params int[] dims)
    {
        ArgumentNullException.ThrowIfNull(dims);
        foreach (var d in dims)
            if (d <= 0) throw new ArgumentException($"shape {Format(dims)} has a non-positive dimension", nameof(dims));
        _dims = (int[])dims.Clone();
        long n = 1;
        foreach (var d in dims) n = checked(n * d);
        Length = n;
    }

    /// <summary>Number of dimensions.</summary>
    public int Rank => _dims.Length;
    /// <summary>Total element count.</summary>
    public long Length { get; }
    /// <summary>Dimension <paramref name="i"/>; negative indices count from the end.</summary>
    public int this[int i] => _dims[i < 0 ? _dims.Length + i : i];
    /// <summary>A copy of the dimensions.</summary>
    public int[] ToArray() => (int[])_dims.Clone();
    /// <summary>Product of dimensions from <paramref name="start"/> to the end.</summary>
    public long Stride(int start)
    {
        long n = 1;
        for (int i = start; i < _dims.Length; i++) n *= _dims[i];
        return n;
    }

    /// <summary>True when both have the same dimensions.</summary>
    public bool Equals(Shape? other) => other is not null && _dims.AsSpan().SequenceEqual(other._dims);
    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is Shape s && Equals(s);
    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (var d in _dims) h.Add(d);
        return h.ToHashCode();
    }
    /// <summary>True when both are null or have the same dimensions.</summary>
    public static bool operator ==(Shape? a, Shape? b) => a is null ? b is null : a.Equals(b);
    /// <summary>True unless both are null or have the same dimensions.</summary>
    public static bool operator !=(Shape? a, Shape? b) => !(a == b);
    /// <summary>The dimensions as "[a,b,c]".</summary>
    public override string ToString() => Format(_dims);
    /// <summary>Formats dimensions as "[a,b,c]".</summary>
    public static string Format(int[] dims) => "[" + string.Join(",", dims) + "]";

    /// <summary>A shape with these dimensions.</summary>
    public static implicit operator Shape(int[] dims) => new(dims);
}
