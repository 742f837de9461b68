namespace DiffusionKernels.Samplers.Datasets;

/// <summary>
/// A dataset folder that cannot be resumed or merged as asked: a missing or changed chunk, a manifest that does not
/// parse, settings that differ from the run's, shards that overlap or leave gaps. The message names the folder and file.
/// </summary>
internal sealed class DatasetException : IOException
{
    /// <summary>Creates the exception with its message.</summary>
    public DatasetException(string message) : base(message) { }

    /// <summary>Creates the exception with its message and cause.</summary>
    public DatasetException(string message, Exception inner) : base(message, inner) { }
}
