namespace DiffusionKernels.Medical.Phantoms;

/// <summary>
/// How a phantom is placed in the field of view: a vertical and/or horizontal flip, then a rotation by
/// <see cref="Rotation"/> radians and a scaling by <see cref="Scale"/> about the centre. Rendering maps each pixel
/// position back to object coordinates, so transformed phantoms are drawn exactly (anti-aliased), not resampled.
/// </summary>
public readonly record struct PhantomView(double Rotation, double Scale, bool FlipVertical, bool FlipHorizontal)
{
    /// <summary>The phantom as trained.</summary>
    public static PhantomView Identity => new(0, 1, false, false);

    /// <summary>The object coordinates seen at field-of-view position (x, y).</summary>
    public (double X, double Y) ToObject(double x, double y)
    {
        if (Scale != 1) { x /= Scale; y /= Scale; }
        if (Rotation != 0)
        {
            double c = Math.Cos(Rotation), s = Math.Sin(Rotation);
            (x, y) = (c * x + s * y, -s * x + c * y);
        }
        if (FlipVertical) y = -y;
        if (FlipHorizontal) x = -x;
        return (x, y);
    }
}
