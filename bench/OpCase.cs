using DiffusionKernels.Runtime;

namespace DiffusionKernels.Bench;

/// <summary>
/// One op at one size, runnable on any backend. Subclasses in <c>Cases/</c> are found by reflection and
/// run both by BenchmarkDotNet (<see cref="OpBenchmarks"/>) and by the quick GFLOP/s table (<see cref="OpTable"/>).
/// </summary>
public abstract class OpCase : IDisposable
{
    private readonly List<Tensor> _tensors = [];

    /// <summary>Unique name, e.g. "conv3x3 128→128 32×32 b8".</summary>
    public abstract string Name { get; }
    /// <summary>Floating-point operations per run (0 for memory-bound ops).</summary>
    public abstract double Flops { get; }
    /// <summary>Bytes read and written per run (the minimum, for GB/s).</summary>
    public abstract double Bytes { get; }

    /// <summary>The backend of the current setup.</summary>
    protected Backend Backend { get; private set; } = null!;

    /// <summary>Allocates inputs and outputs on <paramref name="backend"/>.</summary>
    public void Setup(Backend backend)
    {
        Backend = backend;
        Prepare();
    }

    /// <summary>Allocates this case's tensors (use <see cref="Random"/> and <see cref="Zeros"/>).</summary>
    protected abstract void Prepare();

    /// <summary>Queues one run of the op (no synchronization).</summary>
    public abstract void Run();

    /// <summary>A tensor of uniform noise in [-1, 1), freed with the case.</summary>
    protected Tensor Random(params int[] dims)
    {
        var shape = new Shape(dims);
        var rng = new Random(1234);
        var data = new float[shape.Length];
        for (long i = 0; i < data.Length; i++) data[i] = 2 * rng.NextSingle() - 1;
        var t = Backend.Upload(data, shape);
        _tensors.Add(t);
        return t;
    }

    /// <summary>A zero tensor, freed with the case.</summary>
    protected Tensor Zeros(params int[] dims)
    {
        var t = Backend.Allocate(new Shape(dims));
        _tensors.Add(t);
        return t;
    }

    public void Dispose()
    {
        foreach (var t in _tensors) t.Dispose();
        _tensors.Clear();
        GC.SuppressFinalize(this);
    }

    /// <summary>Every case in this assembly.</summary>
    public static IReadOnlyList<OpCase> All() =>
        typeof(OpCase).Assembly.GetTypes()
            .Where(t => t.IsSubclassOf(typeof(OpCase)) && !t.IsAbstract)
            .SelectMany(t => t.GetMethod("Sizes") is { } m ? (IEnumerable<OpCase>)m.Invoke(null, null)! : [(OpCase)Activator.CreateInstance(t)!])
            .OrderBy(c => c.Name, StringComparer.Ordinal)
            .ToList();
}
