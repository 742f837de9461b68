namespace DiffusionKernels.Tests.Support;

/// <summary>Locates committed fixture files (copied next to the test assembly).</summary>
public static class Fixtures
{
    public static string Path(params string[] parts) =>
        System.IO.Path.Combine([AppContext.BaseDirectory, "fixtures", .. parts]);
}
