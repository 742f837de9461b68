using DiffusionKernels.Runtime;

namespace DiffusionKernels.Cli;

/// <summary>Turns the engine's specific exceptions into one clear line on stderr and a non-zero exit code.</summary>
public static class CliErrors
{
    public static int Run(Func<int> action)
    {
        try
        {
            return action();
        }
        catch (Exception e) when (e is DeviceNotAvailableException or ModelFormatException or ShapeMismatchException
                                       or DTypeMismatchException or NumericalInstabilityException or FileNotFoundException
                                       or DirectoryNotFoundException or ArgumentException or IOException or UnauthorizedAccessException
                                       or OutOfMemoryException or InvalidOperationException)
        {
            Console.Error.WriteLine($"dk: error: {e.Message}");
            return 2;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("dk: interrupted; nothing was written");
            return 130;
        }
    }
}
