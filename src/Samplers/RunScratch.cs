using DiffusionKernels.Runtime;

namespace DiffusionKernels.Samplers;

/// <summary>
/// The tensors of a sampling run kept for the next runs, for a loop captured as a graph: the graph records device
/// addresses, so each run must use the tensors the captured one used, in the same order, and a captured region may not
/// allocate. Each run takes them back from the start (<see cref="Rewind"/>); a float tensor is zeroed when taken, as a
/// fresh allocation is, so a solver sees what it would see without the pool.
/// </summary>
internal sealed class RunScratch(Backend backend) : IDisposable
{
    private readonly List<Tensor> _tensors = [];
    private int _next;

    /// <summary>Tensors allocated so far (the first run allocates; later runs of the same loop reuse them).</summary>
    public int Allocations { get; private set; }

    /// <summary>The next run takes the tensors from the first again.</summary>
    public void Rewind() => _next = 0;

    /// <summary>The run's next tensor of <paramref name="shape"/>: the one it took last run, or a new one.</summary>
    public Tensor Take(Shape shape, DType dtype = DType.Float32)
    {
        if (_next < _tensors.Count && (_tensors[_next].Shape != shape || _tensors[_next].DType != dtype))
        {
            // A different loop (another grid or solver) now uses this pool: its tensors from here on are its own.
            foreach (var stale in _tensors.Skip(_next)) stale.Dispose();
            _tensors.RemoveRange(_next, _tensors.Count - _next);
        }
        if (_next == _tensors.Count)
        {
            _tensors.Add(backend.Allocate(shape, dtype));
            Allocations++;
        }
        // Zeroed by a kernel on every take, the first included, so the first (eager) run queues what later ones do.
        if (dtype == DType.Float32) backend.Fill(_tensors[_next], 0f);
        return _tensors[_next++];
    }

    public void Dispose()
    {
        foreach (var t in _tensors) t.Dispose();
        _tensors.Clear();
    }
}
