namespace DiffusionKernels.Runtime;

/// <summary>Two tensors (or a tensor and what an op expects) disagree in shape.</summary>
public sealed class ShapeMismatchException(string message) : Exception(message)
{
    /// <summary>Builds the standard message: op, what was expected, what was found.</summary>
    public static ShapeMismatchException For(string op, string what, object expected, object found) =>
        new($"{op}: {what} expected {expected}, found {found}");
}

/// <summary>A tensor has the wrong element type for an op.</summary>
public sealed class DTypeMismatchException(string message) : Exception(message);

/// <summary>A device name is unknown or names a device that is not present.</summary>
public sealed class DeviceNotAvailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A model or tensor file is malformed; the message names the file and the tensor.</summary>
public sealed class ModelFormatException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A sampling run produced NaN or Inf.</summary>
public sealed class NumericalInstabilityException(string message) : Exception(message);
