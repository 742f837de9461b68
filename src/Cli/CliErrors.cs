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

    public static int Run(Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception e)
        {
            return Report(e is AggregateException { InnerExceptions.Count: 1 } a ? a.InnerExceptions[0] : e);
        }
    }

    private static int Report(Exception e)
    {
        switch (e)
        {
            case OperationCanceledException:
                Console.Error.WriteLine("dk: interrupted; nothing was written");
                return Interrupted;
            case NumericalInstabilityException:
                Console.Error.WriteLine($"dk: error: non-finite result: {e.Message}");
                return NonFiniteResult;
            case InsufficientMemoryException:
                Console.Error.WriteLine($"dk: error: {e.Message}");
                return UserError;
            case OutOfMemoryException:
                Console.Error.WriteLine($"dk: error: out of memory: {e.Message}");
                return UserError;
            case DeviceNotAvailableException or ModelFormatException or ShapeMismatchException or DTypeMismatchException
                or IOException or UnauthorizedAccessException:
                Console.Error.WriteLine($"dk: error: {e.Message}");
                return UserError;
            case ArgumentException when e is not ArgumentNullException:
                Console.Error.WriteLine($"dk: error: {e.Message}");
                return UserError;
            default:
                Console.Error.WriteLine($"dk: internal error (a bug in dk; please report it with the command line): {e.GetType().Name}: {e.Message}");
                Console.Error.WriteLine(e.StackTrace);
                return InternalError;
        }
    }
}
