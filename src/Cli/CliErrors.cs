using DiffusionKernels.Runtime;

namespace DiffusionKernels.Cli;

/// <summary>
/// Turns what a command throws into one clear line on stderr and an exit code: <see cref="UserError"/> for bad options,
/// inputs, models and resources; <see cref="NonFiniteResult"/> when a result holds NaN or Inf; <see cref="Interrupted"/>
/// for Ctrl+C; <see cref="InternalError"/> for anything else (a bug: the message asks for a report).
/// </summary>
internal static class CliErrors
{
    /// <summary>The command did what was asked.</summary>
    public const int Success = 0;
    /// <summary>An unexpected failure inside dk (a bug); the message and stack trace go to stderr.</summary>
    public const int InternalError = 1;
    /// <summary>A bad option, input file, model or output folder, a missing device, or a run too large for the memory.</summary>
    public const int UserError = 2;
    /// <summary>The result holds NaN or Inf (and --allow-nonfinite was not given); nothing was written.</summary>
    public const int NonFiniteResult = 3;
    /// <summary>Ctrl+C: the run stopped and nothing was written (128 + SIGINT, as shells report it).</summary>
    public const int Interrupted = 130;

    /// <summary>Runs <paramref name="action"/>; what it throws is reported on stderr (and to <paramref name="onError"/>) as an exit code.</summary>
    public static int Run(Func<int> action, Action<string>? onError = null)
    {
        try
        {
            return action();
        }
        catch (Exception e)
        {
            var (code, message) = Classify(e is AggregateException { InnerExceptions.Count: 1 } a ? a.InnerExceptions[0] : e);
            Console.Error.WriteLine(message);
            if (code == InternalError) Console.Error.WriteLine(e.StackTrace);
            onError?.Invoke(message);
            return code;
        }
    }

    /// <summary>The exit code of <paramref name="e"/> and the one line that explains it.</summary>
    private static (int Code, string Message) Classify(Exception e) => e switch
    {
        OperationCanceledException => (Interrupted, "dk: interrupted; nothing was written"),
        NumericalInstabilityException => (NonFiniteResult, $"dk: error: non-finite result: {e.Message}"),
        InsufficientMemoryException => (UserError, $"dk: error: {e.Message}"),
        OutOfMemoryException => (UserError, $"dk: error: out of memory: {e.Message}"),
        DeviceNotAvailableException or ModelFormatException or ShapeMismatchException or DTypeMismatchException
            or IOException or UnauthorizedAccessException => (UserError, $"dk: error: {e.Message}"),
        ArgumentException when e is not ArgumentNullException => (UserError, $"dk: error: {e.Message}"),
        _ => (InternalError, $"dk: internal error (a bug in dk; please report it with the command line): {e.GetType().Name}: {e.Message}"),
    };
}
