using DiffusionKernels.Kernels.Gpu;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;

namespace DiffusionKernels.Runtime;

/// <summary>
/// The ILGPU backend: kernels compiled to PTX for CUDA devices, or run on ILGPU's CPU accelerator (which
/// emulates GPU threads; used to test the kernels on machines without a GPU). All work is queued on one
/// non-blocking stream, so a sampling step never waits on the host.
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

    private IlgpuBackend(Context context, Accelerator accelerator, string name, DeviceInfo device)
    {
        _context = context;
        Accelerator = accelerator;
        Stream = accelerator.CreateStream();
        Name = name;
        _device = device;
    }

    /// <summary>The ILGPU accelerator.</summary>
    public Accelerator Accelerator { get; }

    /// <summary>The stream every kernel of this backend is queued on.</summary>
    public AcceleratorStream Stream { get; }

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
                throw new DeviceNotAvailableException("device 'cuda' requested, but ILGPU found no CUDA device (is the NVIDIA driver and libcuda.so installed?); use --device cpu");
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

    protected override TensorStorage AllocateStorage(long length, DType dtype) => new IlgpuStorage(this, length, dtype);

    protected override void CopyFromHostCore(ReadOnlySpan<float> src, Tensor dst)
    {
        F(dst).CopyFromCPU(Stream, src);
        Stream.Synchronize(); // the span may be gone once we return
    }

    protected override void CopyFromHostCore(ReadOnlySpan<long> src, Tensor dst)
    {
        L(dst).CopyFromCPU(Stream, src);
        Stream.Synchronize();
    }

    protected override void CopyToHostCore(Tensor src, Span<float> dst)
    {
        F(src).CopyToCPU(Stream, dst);
        Stream.Synchronize();
    }

    protected override void CopyToHostCore(Tensor src, Span<long> dst)
    {
        L(src).CopyToCPU(Stream, dst);
        Stream.Synchronize();
    }

    protected override void CopyCore(Tensor src, Tensor dst)
    {
        if (src.DType == DType.Float32) F(src).CopyTo(Stream, F(dst));
        else L(src).CopyTo(Stream, L(dst));
    }

    protected override void FillCore(Tensor dst, float value) => (_fill ??= new FillKernel(Accelerator)).Run(Stream, F(dst), value);

    private FillKernel? _fill;

    /// <inheritdoc />
    public override void Synchronize() => Stream.Synchronize();

    /// <inheritdoc />
    public override void Dispose()
    {
        if (IsDisposed) return;
        DisposeKernels();
        Stream.Dispose();
        Accelerator.Dispose();
        _context.Dispose();
        base.Dispose();
    }

    /// <summary>Releases per-family kernel caches (each op family registers here).</summary>
    partial void DisposeKernels();

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
                }
            }
            catch (Exception e) when (e is not (OutOfMemoryException or ObjectDisposedException))
            {
                throw new OutOfMemoryException($"{backend.Name}: cannot allocate {length} {dtype} elements ({length * (dtype == DType.Float32 ? 4 : 8) / (1024.0 * 1024):F1} MiB): {e.Message}", e);
            }
        }

        public MemoryBuffer1D<float, Stride1D.Dense>? Floats { get; private set; }
        public MemoryBuffer1D<long, Stride1D.Dense>? Longs { get; private set; }

        protected override void Release()
        {
            Floats?.Dispose();
            Longs?.Dispose();
            Floats = null;
            Longs = null;
        }
    }
}
