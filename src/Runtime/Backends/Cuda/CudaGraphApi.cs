using System.Runtime.InteropServices;

namespace DiffusionKernels.Runtime.Backends.Cuda;

/// <summary>
/// The few CUDA driver API calls that stream capture and graph replay need, which ILGPU 1.5.3 does not wrap. The driver
/// (libcuda.so.1, else libcuda.so) is loaded on first use, so nothing changes on a machine without CUDA until a graph is
/// asked for. Signatures and enum values follow the CUDA 12.6 driver header (cuda.h); the exported symbols are the ones
/// that header's macros resolve to (cuStreamBeginCapture → cuStreamBeginCapture_v2, cuGraphInstantiate →
/// cuGraphInstantiateWithFlags), all present since CUDA 11.4.
/// </summary>
/// <remarks>
/// Hand-written rather than taken from a binding library: the allowed dependencies have none for the driver API, and
/// seven entry points do not justify one. Every call returns a CUresult, turned into a <see cref="CudaGraphException"/>
/// that names the call and the code.
/// </remarks>
internal static unsafe class CudaGraphApi
{
    /// <summary>CUresult CUDA_SUCCESS (cuda.h: cudaError_enum).</summary>
    public const int Success = 0;

    /// <summary>CUstreamCaptureMode CU_STREAM_CAPTURE_MODE_THREAD_LOCAL = 1 (cuda.h: CUstreamCaptureMode_enum): this thread
    /// may not make potentially unsafe calls (a synchronous copy, a stream synchronisation) while it captures; they fail
    /// with CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED (900) instead of silently escaping the graph.</summary>
    public const int CaptureModeThreadLocal = 1;

    /// <summary>CUstreamCaptureStatus (cuda.h: CUstreamCaptureStatus_enum): NONE = 0, ACTIVE = 1, INVALIDATED = 2.</summary>
    public enum CaptureStatus
    {
        /// <summary>CU_STREAM_CAPTURE_STATUS_NONE: the stream is not capturing.</summary>
        None = 0,
        /// <summary>CU_STREAM_CAPTURE_STATUS_ACTIVE: the stream is capturing.</summary>
        Active = 1,
        /// <summary>CU_STREAM_CAPTURE_STATUS_INVALIDATED: a capture was broken by an error and must be ended.</summary>
        Invalidated = 2,
    }

    /// <summary>cuGraphInstantiateWithFlags flags: none (cuda.h: CUgraphInstantiate_flags; 1 = AUTO_FREE_ON_LAUNCH,
    /// 2 = UPLOAD, 4 = DEVICE_LAUNCH, 8 = USE_NODE_PRIORITY, none of which a plan replay needs: it allocates nothing).</summary>
    public const ulong InstantiateFlagsNone = 0;

    private sealed class Entries
    {
        // cuda.h: CUresult cuStreamBeginCapture_v2(CUstream hStream, CUstreamCaptureMode mode);
        public delegate* unmanaged<nint, int, int> BeginCapture;
        // cuda.h: CUresult cuStreamEndCapture(CUstream hStream, CUgraph *phGraph);
        public delegate* unmanaged<nint, nint*, int> EndCapture;
        // cuda.h: CUresult cuStreamIsCapturing(CUstream hStream, CUstreamCaptureStatus *captureStatus);
        public delegate* unmanaged<nint, int*, int> IsCapturing;
        // cuda.h: CUresult cuGraphInstantiateWithFlags(CUgraphExec *phGraphExec, CUgraph hGraph, unsigned long long flags);
        public delegate* unmanaged<nint*, nint, ulong, int> Instantiate;
        // cuda.h: CUresult cuGraphLaunch(CUgraphExec hGraphExec, CUstream hStream);
        public delegate* unmanaged<nint, nint, int> Launch;
        // cuda.h: CUresult cuGraphExecDestroy(CUgraphExec hGraphExec);
        public delegate* unmanaged<nint, int> ExecDestroy;
        // cuda.h: CUresult cuGraphDestroy(CUgraph hGraph);
        public delegate* unmanaged<nint, int> GraphDestroy;
        // cuda.h: CUresult cuGetErrorName(CUresult error, const char **pStr);
        public delegate* unmanaged<int, byte**, int> ErrorName;
    }

    private static readonly Lazy<(Entries? Api, string? Missing)> Loaded = new(Load);

    /// <summary>Why the driver API cannot be used here (no libcuda, or a driver older than CUDA 11.4), or null when it can.</summary>
    public static string? Unavailable => Loaded.Value.Missing;

    private static Entries Api => Loaded.Value.Api ?? throw new CudaGraphException(Loaded.Value.Missing!);

    private static (Entries?, string?) Load()
    {
        nint lib = 0;
        foreach (var name in new[] { "libcuda.so.1", "libcuda.so", "nvcuda.dll" })
            if (NativeLibrary.TryLoad(name, out lib)) break;
        if (lib == 0) return (null, "the CUDA driver library (libcuda.so.1) could not be loaded");
        var missing = new List<string>();
        nint Export(string symbol)
        {
            if (NativeLibrary.TryGetExport(lib, symbol, out var f)) return f;
            missing.Add(symbol);
            return 0;
        }
        var e = new Entries
        {
            BeginCapture = (delegate* unmanaged<nint, int, int>)Export("cuStreamBeginCapture_v2"),
            EndCapture = (delegate* unmanaged<nint, nint*, int>)Export("cuStreamEndCapture"),
            IsCapturing = (delegate* unmanaged<nint, int*, int>)Export("cuStreamIsCapturing"),
            Instantiate = (delegate* unmanaged<nint*, nint, ulong, int>)Export("cuGraphInstantiateWithFlags"),
            Launch = (delegate* unmanaged<nint, nint, int>)Export("cuGraphLaunch"),
            ExecDestroy = (delegate* unmanaged<nint, int>)Export("cuGraphExecDestroy"),
            GraphDestroy = (delegate* unmanaged<nint, int>)Export("cuGraphDestroy"),
            ErrorName = (delegate* unmanaged<int, byte**, int>)Export("cuGetErrorName"),
        };
        return missing.Count == 0 ? (e, null) : (null, $"the CUDA driver lacks {string.Join(", ", missing)} (CUDA-graph replay needs a driver for CUDA 11.4 or later)");
    }

    /// <summary>Starts capturing the work queued on <paramref name="stream"/> (a non-blocking stream) into a graph.</summary>
    public static void BeginCapture(nint stream) => Check("cuStreamBeginCapture_v2", Api.BeginCapture(stream, CaptureModeThreadLocal));

    /// <summary>Ends the capture on <paramref name="stream"/> and returns its graph (0 when none was made).</summary>
    public static int EndCapture(nint stream, out nint graph)
    {
        nint g = 0;
        int result = Api.EndCapture(stream, &g);
        graph = g;
        return result;
    }

    /// <summary>Whether <paramref name="stream"/> is capturing.</summary>
    public static CaptureStatus IsCapturing(nint stream)
    {
        int status = 0;
        Check("cuStreamIsCapturing", Api.IsCapturing(stream, &status));
        return (CaptureStatus)status;
    }

    /// <summary>An executable graph of <paramref name="graph"/>.</summary>
    public static nint Instantiate(nint graph)
    {
        nint exec = 0;
        Check("cuGraphInstantiateWithFlags", Api.Instantiate(&exec, graph, InstantiateFlagsNone));
        return exec;
    }

    /// <summary>Queues <paramref name="exec"/> on <paramref name="stream"/>.</summary>
    public static void Launch(nint exec, nint stream) => Check("cuGraphLaunch", Api.Launch(exec, stream));

    /// <summary>Frees an executable graph; failures are ignored (used on disposal paths).</summary>
    public static int DestroyExec(nint exec) => exec == 0 ? Success : Api.ExecDestroy(exec);

    /// <summary>Frees a graph; failures are ignored (used on disposal paths).</summary>
    public static int DestroyGraph(nint graph) => graph == 0 ? Success : Api.GraphDestroy(graph);

    /// <summary>Throws a <see cref="CudaGraphException"/> naming <paramref name="call"/> and the code unless it succeeded.</summary>
    public static void Check(string call, int result)
    {
        if (result != Success) throw new CudaGraphException(Describe(call, result), result);
    }

    /// <summary>"call failed with CUDA_ERROR_X (code)".</summary>
    public static string Describe(string call, int result) => $"{call} failed with {ErrorName(result)} ({result})";

    private static string ErrorName(int result)
    {
        byte* name = null;
        if (Loaded.Value.Api is { } api && api.ErrorName(result, &name) == Success && name != null)
            return Marshal.PtrToStringAnsi((nint)name) ?? "an unknown CUresult";
        return "an unknown CUresult";
    }
}

/// <summary>A CUDA driver call of graph capture or replay failed; <see cref="Result"/> is its CUresult (0 when the driver could not be used at all).</summary>
internal sealed class CudaGraphException(string message, int result = 0) : Exception(message)
{
    /// <summary>The CUresult code.</summary>
    public int Result { get; } = result;
}
