namespace DiffusionKernels.Runtime.Plan;

/// <summary>
/// A compiled, replayable list of kernel launches over buffers allocated once. <see cref="Run"/> replays it
/// without allocating; the arena's views are reused by liveness, so peak activation memory is the arena size.
/// </summary>
internal sealed class ExecutionPlan : IDisposable
{
    private readonly PlanStep[] _steps;
    private readonly Tensor[][] _bound;
    private readonly Tensor _arena;

    internal ExecutionPlan(Backend backend, PlanStep[] steps, Tensor[][] bound, Tensor arena, double flops)
    {
        Backend = backend;
        _steps = steps;
        _bound = bound;
        _arena = arena;
        Flops = flops;
    }

    public Backend Backend { get; }
    /// <summary>Number of launches (steps) per run.</summary>
    public int StepCount => _steps.Length;
    /// <summary>Bytes of the activation arena (peak activation memory).</summary>
    public long ArenaBytes => _arena.Length * sizeof(float);
    /// <summary>Floating-point operations of one run.</summary>
    public double Flops { get; }
    /// <summary>Step names, in order (for dumps and profiling).</summary>
    public IEnumerable<string> StepNames => _steps.Select(s => s.Name);

    /// <summary>Queues every step on the backend; does not wait.</summary>
    public void Run()
    {
        for (int i = 0; i < _steps.Length; i++) _steps[i].Action(_bound[i]);
    }

    private PlanGraph? _graph;

    /// <summary>The graph replay of this plan, once <see cref="RunReplayed"/> has made one.</summary>
    public PlanGraph? Graph => _graph;

    /// <summary>
    /// <see cref="Run"/> as a replayed graph (<see cref="PlanGraph"/>: eager first, captured second, replayed after)
    /// where the backend can capture one; plainly elsewhere.
    /// </summary>
    public void RunReplayed()
    {
        if (_graph is null)
        {
            if (Backend.GraphCapture is not { } capture)
            {
                Run();
                return;
            }
            _graph = new PlanGraph(Backend, capture, Run);
        }
        _graph.Run();
    }

    /// <summary>
    /// Runs once, synchronizing after every step, and returns each step's name, wall time in milliseconds and
    /// floating-point operations (for finding the slow layers; synchronizing makes the total larger than <see cref="Run"/>'s).
    /// </summary>
    public IReadOnlyList<(string Step, double Ms, double Flops)> RunProfiled()
    {
        var times = new List<(string, double, double)>(_steps.Length);
        Backend.Synchronize();
        for (int i = 0; i < _steps.Length; i++)
        {
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            _steps[i].Action(_bound[i]);
            Backend.Synchronize();
            times.Add((_steps[i].Name, System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMilliseconds, _steps[i].Flops));
        }
        return times;
    }

    /// <summary>
    /// Host time to queue each step, in microseconds: the median over <paramref name="runs"/> runs that do not wait
    /// for the device inside a run (one wait between runs, so a deep queue never blocks a launch). On an asynchronous
    /// backend this is the launch overhead the host pays per step, what graph replay removes; on a backend that
    /// computes as it queues (the CPU) it is the step's compute time.
    /// </summary>
    public IReadOnlyList<(string Step, double HostUs)> HostQueueTimes(int runs)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(runs, 1);
        var samples = new double[_steps.Length, runs];
        for (int r = 0; r < runs; r++)
        {
            Backend.Synchronize();
            for (int i = 0; i < _steps.Length; i++)
            {
                long start = System.Diagnostics.Stopwatch.GetTimestamp();
                _steps[i].Action(_bound[i]);
                samples[i, r] = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalMicroseconds;
            }
        }
        Backend.Synchronize();
        var times = new (string, double)[_steps.Length];
        var row = new double[runs];
        for (int i = 0; i < _steps.Length; i++)
        {
            for (int r = 0; r < runs; r++) row[r] = samples[i, r];
            times[i] = (_steps[i].Name, Median(row));
        }
        return times;
    }

    private static double Median(double[] values)
    {
        Array.Sort(values);
        int n = values.Length;
        return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
    }

    /// <summary>
    /// Kernel launches of each step, in order: exact where the backend counts its launches (ILGPU: every kernel an op
    /// queues), measured by running the plan once step by step; one per step elsewhere (the CPU backend, where each
    /// step is one op call). Device copies are not kernels and count zero. Computed once, then cached.
    /// </summary>
    public IReadOnlyList<(string Step, int Launches)> LaunchesPerStep()
    {
        if (_launches is not null) return _launches;
        var counts = new (string, int)[_steps.Length];
        if (Backend.KernelLaunches is null)
        {
            for (int i = 0; i < _steps.Length; i++) counts[i] = (_steps[i].Name, 1);
        }
        else
        {
            for (int i = 0; i < _steps.Length; i++)
            {
                long before = Backend.KernelLaunches.Value;
                _steps[i].Action(_bound[i]);
                counts[i] = (_steps[i].Name, checked((int)(Backend.KernelLaunches.Value - before)));
            }
            Backend.Synchronize();
        }
        return _launches = counts;
    }

    /// <summary>Kernel launches of one run (the sum of <see cref="LaunchesPerStep"/>).</summary>
    public int LaunchCount => LaunchesPerStep().Sum(s => s.Launches);

    private (string Step, int Launches)[]? _launches;

    public void Dispose()
    {
        _graph?.Dispose();
        _arena.Dispose();
    }
}

/// <summary>One launch: its name, its values (inputs then outputs) and what it does with their tensors.</summary>
internal sealed record PlanStep(string Name, PlanValue[] Values, Action<Tensor[]> Action, double Flops);
