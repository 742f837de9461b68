using DiffusionKernels.Runtime;

namespace DiffusionKernels.Samplers;

/// <summary>
/// One solver or diffusers-scheduler loop over one batch, suspended between steps so that the caller drives it
/// (<see cref="Solvers.Solver.Begin"/>, <see cref="Diffusers.DiffusersScheduler.Begin"/>): each <see cref="Step"/> takes one
/// step, after which <see cref="Current"/> holds x, x̂₀, σ and the timestep, x may be edited, and the caller may
/// <see cref="Stop"/>. It is the loop <c>Sample</c> runs, not a copy of it: the solver's history, its noise keyed by
/// (seed, sample, step) and its evaluations are the same, so stepping to the end gives <c>Sample</c>'s bytes.
/// </summary>
/// <remarks>
/// The loop is the solver's own iterator (a compiler-built state machine, like a Python generator): no thread waits
/// between steps. Thread safety: one caller at a time (any thread, one step after another); the caller holds the
/// model exclusively around each step when the model is shared. Dispose it to free the loop's scratch tensors.
/// </remarks>
public sealed class SamplerRun : IDisposable
{
    private readonly IEnumerator<StepInfo> _loop;
    private readonly Func<StepState?> _state;
    private readonly IDisposable _context;
    private bool _disposed;

    internal SamplerRun(IEnumerable<StepInfo> loop, Func<StepState?> state, Tensor x, IDisposable context)
    {
        _loop = loop.GetEnumerator();
        _state = state;
        X = x;
        _context = context;
    }

    /// <summary>The solver loop's context (null for a diffusers scheduler's loop), for reading its finite flags after a replay.</summary>
    internal SamplerContext? SolverContext => _context as SamplerContext;

    /// <summary>The batch being sampled, updated in place; after the loop has finished, the samples.</summary>
    public Tensor X { get; }

    /// <summary>
    /// The state after the last step taken (null before the first): step, σ, next σ, timestep, evaluations, x and x̂₀
    /// (<see cref="StepState.Denoised"/>; null on a diffusers scheduler, whose x̂₀ stays inside its step). Valid until the
    /// next <see cref="Step"/>; <see cref="StepState.SetX"/> or writing <see cref="StepState.X"/> steers the rest of the run,
    /// <see cref="StepState.Stop"/> ends it as <see cref="Stop"/> does.
    /// </summary>
    public StepState? Current { get; private set; }

    /// <summary>Steps taken so far.</summary>
    public int StepsTaken { get; private set; }

    /// <summary>Whether the loop is over: run to its end, stopped, or failed.</summary>
    public bool Finished { get; private set; }

    /// <summary>Whether the loop ended early, by <see cref="Stop"/>, <see cref="StepState.Stop"/> or a step callback's stop.</summary>
    public bool Stopped { get; private set; }

    /// <summary>
    /// Takes the next step. Returns false, taking none, when the loop is over; the call that finds the grid exhausted
    /// also does what the loop does after its last step (a final x̂₀ for some solvers), so after a <c>while (run.Step())</c>
    /// loop <see cref="X"/> is exactly what <c>Sample</c> leaves.
    /// </summary>
    /// <exception cref="OperationCanceledException">The options' cancellation token was cancelled.</exception>
    /// <exception cref="NumericalInstabilityException">A step produced NaN or Inf (with the finite check on).</exception>
    /// <exception cref="ObjectDisposedException">The run has been disposed.</exception>
    public bool Step()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Finished) return false;
        if (Current?.StopRequested == true)
        {
            Stop();
            return false;
        }
        try
        {
            if (!_loop.MoveNext())
            {
                Finished = true;
                return false;
            }
        }
        catch (SamplingStoppedException)
        {
            Stop();
            return false;
        }
        catch
        {
            Finished = true;
            throw;
        }
        StepsTaken++;
        Current = _state();
        return true;
    }

    /// <summary>Takes the remaining steps (the loop's end as <c>Sample</c> runs it); nothing when it is already over.</summary>
    /// <inheritdoc cref="Step" path="/exception"/>
    public void Finish()
    {
        while (Step()) { }
    }

    /// <summary>Ends the loop here: <see cref="X"/> stays as the last step left it.</summary>
    public void Stop()
    {
        Stopped = !Finished || Stopped;
        Finished = true;
    }

    /// <summary>Frees the loop and its scratch tensors (not <see cref="X"/>, which the caller owns).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _loop.Dispose();
        _context.Dispose();
    }
}
