namespace DiffusionKernels.Cli;

/// <summary>
/// The library names a <see cref="GenerationRequest"/> property in its errors; dk's users know the setting by its flag.
/// This rewrites such a message into flags, so a dk error names what to type.
/// </summary>
internal static class RequestFlags
{
    private static readonly (string Property, string Flag)[] Flags =
    [
        // Longer names first: NullClassLabel contains ClassLabel.
        ($"{nameof(GenerationRequest)}.{nameof(GenerationRequest.NullClassLabel)}", "--null-class"),
        ($"{nameof(GenerationRequest)}.{nameof(GenerationRequest.ClassLabel)}", "--class-label"),
        (nameof(GenerationRequest.GuidanceScale), "--guidance-scale"),
    ];

    /// <summary>Runs <paramref name="action"/>; an <see cref="ArgumentException"/> it throws comes back with flags for properties.</summary>
    public static T Map<T>(Func<T> action)
    {
        try
        {
            return action();
        }
        catch (ArgumentException e) when (e is not ArgumentNullException && Flags.Any(f => e.Message.Contains(f.Property, StringComparison.Ordinal)))
        {
            string message = e.Message;
            foreach (var (property, flag) in Flags) message = message.Replace(property, flag, StringComparison.Ordinal);
            throw new ArgumentException(message, e);
        }
    }
}
