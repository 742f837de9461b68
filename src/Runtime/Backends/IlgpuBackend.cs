using DiffusionKernels.Kernels.Gpu;
using DiffusionKernels.Runtime.Backends.Cuda;
using DiffusionKernels.Runtime.Plan;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace DiffusionKernels.Runtime;

/// <summary>
/// The ILGPU backend: kernels compiled to PTX for CUDA devices, or run on ILGPU's CPU accelerator (which
/// emulates GPU threads; used to test the kernels on machines without a GPU). Kernels, device copies and small host
/// uploads (staged through page-locked memory) are all queued on one non-blocking stream without waiting, so the host
/// waits for the device only where it reads a result (<see cref="Backend.CopyToHost(Tensor, Span{float})"/>,
/// <see cref="Synchronize"/>) or uploads more than the staging ring holds.
/// </summary>
/// <remarks>
/// Thread safety: not safe for concurrent calls (<see cref="Backend.SupportsConcurrentCalls"/> is false): one stream
/// and lazily compiled kernels are shared by every caller, so use it from one thread at a time (the sampling API
/// serializes its runs on a backend like this one itself).
/// </remarks>
public sealed partial class IlgpuBackend : Backend
{
    private readonly Context _context;
    private readonly DeviceInfo _device;

    /// <summary>Bytes of page-locked memory for asynchronous uploads (each upload of up to a quarter of it is staged).</summary>
    private const int StagingBytes = 1 << 20;

    private readonly PinnedStaging _staging;

    // Each op family's launcher (IlgpuBackend.<Family>.cs, named after Kernels/Gpu/<Family>Kernels.cs) is created on
    // first use and holds only compiled kernels, which the accelerator owns and frees.

    private IlgpuBackend(Context context, Accelerator accelerator, string name, DeviceInfo device)
    {
        _context = context;
        Accelerator = accelerator;
        Stream = accelerator.CreateStream();
        Name = name;
        _device = device;
        _staging = new PinnedStaging(accelerator, StagingBytes);
    }

    /// <summary>The ILGPU accelerator.</summary>
    public Accelerator Accelerator { get; }

    /// <summary>The stream every kernel of this backend is queued on.</summary>
    public AcceleratorStream Stream { get; }

    internal override long? KernelLaunches => LaunchCounter.Read(Stream);

    /// <inheritdoc />
    public override string Name { get; }

    /// <inheritdoc />
    public override DeviceInfo Device => _device;

    /// <summary>Opens CUDA device <paramref name="index"/>.</summary>
    public static IlgpuBackend CreateCuda(int index)
    {
        var context = IlgpuContexts.CreateCuda();
        try
        {
            var devices = context.GetCudaDevices();
            if (devices.Count == 0)
                throw new DeviceNotAvailableException("device 'cuda' requested, but ILGPU found no CUDA device (is the NVIDIA driver and libcuda.so installed?); use the cpu device instead");
            if (index < 0 || index >= devices.Count)
                throw new DeviceNotAvailableException($"device 'cuda:{index}' requested, but only {devices.Count} CUDA device(s) exist (cuda:0..cuda:{devices.Count - 1})");
            var accelerator = devices[index].CreateAccelerator(context);
            return new IlgpuBackend(context, accelerator, $"cuda:{index}", IlgpuContexts.Describe(devices[index], $"cuda:{index}"));
        }
        catch
        {
            context.Dispose();
            throw;
        }
    }

    /// <summary>
    /// ILGPU's CPU accelerator configured with 32-wide warps and 256-thread groups, the shapes the CUDA
    /// kernels are written for, so the same kernels run unchanged (slowly) without a GPU.
    /// </summary>
    public static IlgpuBackend CreateCpuEmulator()
    {
        var context = IlgpuContexts.CreateCpuEmulator();
        var device = context.GetCPUDevice(0);
        var accelerator = device.CreateCPUAccelerator(context, CPUAcceleratorMode.Parallel);
        return new IlgpuBackend(context, accelerator, "ilgpu-cpu", IlgpuContexts.Describe(device, "ilgpu-cpu"));
    }

    /// <summary>True when the backend runs real CUDA hardware.</summary>
    public bool IsCuda => Accelerator.AcceleratorType == AcceleratorType.Cuda;

    /// <summary>The float32 elements of <paramref name="t"/> as a device view.</summary>
    internal static ArrayView<float> F(Tensor t) => ((IlgpuStorage)t.Storage).Floats!.View.SubView(t.Offset, t.Length);

    /// <summary>The int64 elements of <paramref name="t"/> as a device view.</summary>
    internal static ArrayView<long> L(Tensor t) => ((IlgpuStorage)t.Storage).Longs!.View.SubView(t.Offset, t.Length);

    private protected override TensorStorage AllocateStorage(long length, DType dtype) => new IlgpuStorage(this, length, dtype);

    // Small uploads (timesteps, labels) are staged and queued without waiting; large ones are copied from the span
    // itself, which may be gone once we return, so they wait.
    private protected override void CopyFromHostCore(ReadOnlySpan<float> src, Tensor dst)
    {
        if (_staging.TryUpload(Stream, src, F(dst))) return;
        F(dst).CopyFromCPU(Stream, src);
        WaitForDevice();
    }

    private protected override void CopyFromHostCore(ReadOnlySpan<long> src, Tensor dst)
    {
        ((IlgpuStorage)dst.Storage).Mirror(dst.Offset, src);
        if (_staging.TryUpload(Stream, src, L(dst))) return;
        L(dst).CopyFromCPU(Stream, src);
        WaitForDevice();
    }

    /// <summary>Times the staging ring wrapped and waited for the stream (tests check uploads stay asynchronous).</summary>
    internal int StagingWraps => _staging.Wraps;

    private protected override void CopyToHostCore(Tensor src, Span<float> dst)
    {
        F(src).CopyToCPU(Stream, dst);
        WaitForDevice();
    }

    private protected override void CopyToHostCore(Tensor src, Span<long> dst)
    {
        L(src).CopyToCPU(Stream, dst);
        WaitForDevice();
    }

    private protected override void CopyCore(Tensor src, Tensor dst)
    {
        if (src.DType == DType.Float32)
        {
            F(src).CopyTo(Stream, F(dst));
            return;
        }
        L(src).CopyTo(Stream, L(dst));
        var from = (IlgpuStorage)src.Storage;
        var to = (IlgpuStorage)dst.Storage;
        if (from.HostLongs is { } mirror) to.Mirror(dst.Offset, mirror.AsSpan(checked((int)src.Offset), checked((int)src.Length)));
        else to.InvalidateMirror();
    }

    /// <summary>
    /// int64 tensors (labels) change only through uploads and copies, so their storage keeps a host copy: checks of
    /// their values (<see cref="Backend.EmbeddingLookup"/>) read it without waiting for the device. Storage a kernel
    /// has written (<see cref="Backend.FlagNonFinite"/>) has no valid copy and is read from the device.
    /// </summary>
    private protected override void ReadInt64WithoutWaiting(Tensor t, Span<long> values)
    {
        if (((IlgpuStorage)t.Storage).HostLongs is { } mirror) mirror.AsSpan(checked((int)t.Offset), values.Length).CopyTo(values);
        else CopyToHostCore(t, values);
    }

    /// <summary>Marks int64 storage a kernel writes: its host copy no longer holds.</summary>
    private static void DeviceWrites(Tensor t) => ((IlgpuStorage)t.Storage).InvalidateMirror();

    private protected override void FillCore(Tensor dst, float value) => (_fill ??= new FillKernel(Accelerator)).Run(Stream, F(dst), value);

    private FillKernel? _fill;

    /// <inheritdoc />
    public override void Synchronize() => WaitForDevice();

    private long _waits;

    /// <summary>Blocks until the stream is idle and counts the wait (<see cref="HostSynchronizations"/>).</summary>
    private void WaitForDevice()
    {
        _waits++;
        Stream.Synchronize();
    }

    // The staging ring waits for the stream itself when it wraps; those waits count too.
    internal override long HostSynchronizations => _waits + _staging.Wraps;

    internal override long StagedUploads => _staging.Uploads;

    internal override long StagedBytes => _staging.StagedBytes;

    internal override KeptStaging? KeepStagedUploads(long bytes)
    {
        KeptStaging? kept = null;
        kept = new KeptStaging(Accelerator, bytes, () =>
        {
            if (ReferenceEquals(_staging.Kept, kept)) _staging.Kept = null;
        });
        _staging.Kept = kept;
        return kept;
    }

    private long _scratchGeneration;

    internal override long ScratchGeneration => _scratchGeneration;

    private CudaStreamCapture? _cudaCapture;

    // Stream capture needs a CUDA device, the driver's graph API, and the non-blocking stream every op is queued on.
    private protected override IGraphCapture? NativeGraphCapture =>
        IsCuda && CudaGraphApi.Unavailable is null ? _cudaCapture ??= new CudaStreamCapture(this) : null;

    internal override string GraphCaptureUnavailable => IsCuda ? CudaGraphApi.Unavailable ?? "" : base.GraphCaptureUnavailable;

    /// <inheritdoc />
    public override void Dispose()
    {
        if (IsDisposed) return;
        Stream.Synchronize(); // queued copies may still read the staging ring
        // Launchers hold only compiled kernels, which the accelerator owns and frees; buffers are freed here.
        _coefficients?.Dispose();
        _splitKWorkspace?.Dispose();
        _staging.Dispose();
        Stream.Dispose();
        Accelerator.Dispose();
        _context.Dispose();
        base.Dispose();
    }

    private sealed class IlgpuStorage : TensorStorage
    {
        public IlgpuStorage(IlgpuBackend backend, long length, DType dtype) : base(length, dtype)
        {
            try
            {
                if (dtype == DType.Float32)
                {
                    Floats = backend.Accelerator.Allocate1D<float>(length);
                    Floats.View.MemSetToZero(backend.Stream);
                }
                else
                {
                    Longs = backend.Accelerator.Allocate1D<long>(length);
                    Longs.View.MemSetToZero(backend.Stream);
                    if (length <= MirroredLongs) HostLongs = new long[length];
                }
            }
            catch (Exception e) when (e is not (OutOfMemoryException or ObjectDisposedException))
            {
                // CA2201: the engine reports a device allocation that fails as OutOfMemoryException, as the runtime does
                // for the host, so callers (and dk's exit code 2) handle both alike.
#pragma warning disable CA2201
                throw new OutOfMemoryException($"{backend.Name}: cannot allocate {length} {dtype} elements ({length * (dtype == DType.Float32 ? 4 : 8) / (1024.0 * 1024):F1} MiB): {e.Message}", e);
#pragma warning restore CA2201
            }
        }

        /// <summary>int64 tensors up to this length keep a host copy (labels and flags are a batch long).</summary>
        private const int MirroredLongs = 1 << 16;

        public MemoryBuffer1D<float, Stride1D.Dense>? Floats { get; private set; }
        public MemoryBuffer1D<long, Stride1D.Dense>? Longs { get; private set; }

        /// <summary>The host copy of an int64 storage's values, or null when there is none or a kernel wrote it.</summary>
        public long[]? HostLongs { get; private set; }

        public void Mirror(long offset, ReadOnlySpan<long> values)
        {
            if (HostLongs is not null) values.CopyTo(HostLongs.AsSpan(checked((int)offset)));
        }

        public void InvalidateMirror() => HostLongs = null;

        protected override void Release()
        {
            Floats?.Dispose();
            Longs?.Dispose();
            Floats = null;
            Longs = null;
        }
    }
}
