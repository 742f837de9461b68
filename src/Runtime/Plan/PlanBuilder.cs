namespace DiffusionKernels.Runtime.Plan;

/// <summary>
/// Records a graph as a list of steps over symbolic values, then compiles it: lifetimes come from the step
/// order, arena offsets from <see cref="ArenaPlanner"/>, and each step gets its tensors bound once.
/// </summary>
internal sealed class PlanBuilder(Backend backend)
{
    private readonly List<PlanValue> _values = [];
    private readonly List<PlanStep> _steps = [];

    public Backend Backend { get; } = backend;

    /// <summary>A new arena value.</summary>
    public PlanValue Value(string name, params int[] dims)
    {
        var v = new PlanValue(_values.Count, new Shape(dims), name, null);
        _values.Add(v);
        return v;
    }

    /// <summary>A value backed by a caller-owned tensor (inputs, outputs, constants).</summary>
    public PlanValue External(string name, Tensor tensor)
    {
        var v = new PlanValue(_values.Count, tensor.Shape, name, tensor);
        _values.Add(v);
        return v;
    }

    /// <summary>
    /// Records a step over <paramref name="values"/>; <paramref name="action"/> receives their tensors in the
    /// same order. Every arena value must have been written by an earlier step (or this one) before it is read.
    /// </summary>
    public void Step(string name, PlanValue[] values, Action<Tensor[]> action, double flops = 0)
    {
        int index = _steps.Count;
        foreach (var v in values)
        {
            if (v.External is null && v.FirstStep < 0) v.FirstStep = index;
            v.LastStep = index;
        }
        _steps.Add(new PlanStep(name, values, action, flops));
    }

    /// <summary>Allocates the arena once and binds every step's tensors.</summary>
    public ExecutionPlan Compile()
    {
        var arenaValues = _values.Where(v => v.External is null && v.FirstStep >= 0).ToList();
        var offsets = new long[arenaValues.Count];
        long size = ArenaPlanner.Place(arenaValues.Select(v => (v.Shape.Length, v.FirstStep, v.LastStep)).ToList(), offsets);
        for (int i = 0; i < arenaValues.Count; i++) arenaValues[i].Offset = offsets[i];
        Tensor arena;
        try
        {
            arena = Backend.Allocate(ArenaShape(size));
        }
        catch (OutOfMemoryException e)
        {
            // CA2201: rethrown as the same type (with the arena's size) so callers handle it like any allocation failure.
#pragma warning disable CA2201
            throw new OutOfMemoryException($"execution plan: the activation arena of {size:N0} float32 elements ({size * 4.0 / (1L << 30):F2} GiB) does not fit on {Backend.Name}: {e.Message}", e);
#pragma warning restore CA2201
        }
        var bound = _steps.Select(s => s.Values.Select(v => v.External ?? arena.View(v.Shape, v.Offset)).ToArray()).ToArray();
        return new ExecutionPlan(Backend, [.. _steps], bound, arena, _steps.Sum(s => s.Flops));
    }

    /// <summary>
    /// The arena's shape for <paramref name="elements"/> (a multiple of <see cref="ArenaPlanner.Alignment"/>): rows of
    /// that alignment, so a 64-bit element count needs no dimension above 2³¹ − 1 (views into it use 64-bit offsets).
    /// </summary>
    public static Shape ArenaShape(long elements)
    {
        long rows = Math.Max(1, (elements + ArenaPlanner.Alignment - 1) / ArenaPlanner.Alignment);
#pragma warning disable CA2201 // an arena past 2^31 rows fails as any allocation too large for the device does
        if (rows > int.MaxValue) throw new OutOfMemoryException($"execution plan: an activation arena of {elements:N0} elements is beyond any device");
#pragma warning restore CA2201
        return new Shape((int)rows, ArenaPlanner.Alignment);
    }
}
