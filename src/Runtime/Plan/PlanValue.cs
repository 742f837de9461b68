namespace DiffusionKernels.Runtime.Plan;

/// <summary>A symbolic activation in a plan being built: a shape now, a view into the arena once compiled.</summary>
internal sealed class PlanValue
{
    internal PlanValue(int id, Shape shape, string name, Tensor? external)
    {
        Id = id;
        Shape = shape;
        Name = name;
        External = external;
    }

    public int Id { get; }
    public Shape Shape { get; }
    /// <summary>A name for error messages and plan dumps.</summary>
    public string Name { get; }
    /// <summary>A tensor owned outside the arena (plan inputs, outputs, constants), or null for arena values.</summary>
    internal Tensor? External { get; }
    /// <summary>Index of the step that writes it (−1 for external values).</summary>
    internal int FirstStep { get; set; } = -1;
    /// <summary>Index of the last step that reads or writes it.</summary>
    internal int LastStep { get; set; } = -1;
    /// <summary>Arena offset in elements, once placed.</summary>
    internal long Offset { get; set; } = -1;

    public override string ToString() => $"{Name}{Shape}";
}
