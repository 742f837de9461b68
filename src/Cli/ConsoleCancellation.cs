namespace DiffusionKernels.Cli;

/// <summary>Turns Ctrl+C into a cancellation token for the duration of a command, so long runs stop cleanly.</summary>
/// <remarks>One per command run; installs a process-wide Ctrl+C handler until disposed.</remarks>
internal sealed class ConsoleCancellation : IDisposable
{
    private readonly CancellationTokenSource _source = new();
    private readonly ConsoleCancelEventHandler _handler;

    private ConsoleCancellation()
    {
        _handler = (_, e) =>
        {
            e.Cancel = true;
            _source.Cancel();
        };
        Console.CancelKeyPress += _handler;
    }

    public CancellationToken Token => _source.Token;

    public static ConsoleCancellation Install() => new();

    public void Dispose()
    {
        Console.CancelKeyPress -= _handler;
        _source.Dispose();
    }
}
