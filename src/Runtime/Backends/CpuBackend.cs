using System.Numerics;
using System.Runtime.Intrinsics.X86;

namespace DiffusionKernels.Runtime;

/// <summary>
/// The managed backend: SIMD, multi-threaded C# over host arrays. It is the CPU execution path and the
/// reference the ILGPU kernels are tested against.
/// </summary>
/// <remarks>
/// Thread safety: ops keep no state between calls (scratch is per thread), so several threads may call it at once on
/// distinct tensors (<see cref="SupportsConcurrentCalls"/>); two calls that write the same tensor must be serialized by the caller.
/// </remarks>
public sealed partial class CpuBackend : Backend
{
    private static readonly DeviceInfo CpuDevice = new(
        "cpu", "cpu",
        $"{System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture} managed ({IsaName()})",
        GC.GetGCMemoryInfo().TotalAvailableMemoryBytes,
        Environment.ProcessorCount, 1, SimdWidthBits: Vector<float>.Count * 32);

    /// <inheritdoc />
    public override string Name => "cpu";

    /// <inheritdoc />
    public override DeviceInfo Device => CpuDevice;

    /// <inheritdoc />
    public override bool SupportsConcurrentCalls => true;

    /// <summary>Describes this machine's CPU (cores, SIMD width) without creating a backend.</summary>
    public static DeviceInfo Describe() => CpuDevice;

    private static string IsaName() =>
        Avx512F.IsSupported ? "AVX-512F, AVX2, FMA" : Avx2.IsSupported && Fma.IsSupported ? "AVX2, FMA" : Vector.IsHardwareAccelerated ? "SIMD" : "scalar";

    /// <summary>The float32 elements of <paramref name="t"/>.</summary>
    internal static Span<float> F(Tensor t) => ((CpuStorage)t.Storage).Floats!.AsSpan(checked((int)t.Offset), checked((int)t.Length));

    /// <summary>The int64 elements of <paramref name="t"/>.</summary>
    internal static Span<long> L(Tensor t) => ((CpuStorage)t.Storage).Longs!.AsSpan(checked((int)t.Offset), checked((int)t.Length));

    private protected override TensorStorage AllocateStorage(long length, DType dtype) => new CpuStorage(length, dtype);
    private protected override void CopyFromHostCore(ReadOnlySpan<float> src, Tensor dst)
    {
        ForgetPackedWeights(dst);
        src.CopyTo(F(dst));
    }

    private protected override void CopyFromHostCore(ReadOnlySpan<long> src, Tensor dst) => src.CopyTo(L(dst));
    private protected override void CopyToHostCore(Tensor src, Span<float> dst) => F(src).CopyTo(dst);
    private protected override void CopyToHostCore(Tensor src, Span<long> dst) => L(src).CopyTo(dst);

    private protected override void CopyCore(Tensor src, Tensor dst)
    {
        ForgetPackedWeights(dst);
        if (src.DType == DType.Float32) F(src).CopyTo(F(dst));
        else L(src).CopyTo(L(dst));
    }

    private protected override void FillCore(Tensor dst, float value)
    {
        ForgetPackedWeights(dst);
        F(dst).Fill(value);
    }

    /// <inheritdoc />
    public override void Synchronize() { }

    private sealed class CpuStorage : TensorStorage
    {
        public CpuStorage(long length, DType dtype) : base(length, dtype)
        {
            if (length > Array.MaxLength)
                throw new InsufficientMemoryException($"cpu: a tensor of {length:N0} elements is more than one managed array holds ({Array.MaxLength:N0})");
            if (dtype == DType.Float32) Floats = new float[length];
            else Longs = new long[length];
        }

        public float[]? Floats { get; private set; }
        public long[]? Longs { get; private set; }

        protected override void Release()
        {
            Floats = null;
            Longs = null;
        }
    }
}
