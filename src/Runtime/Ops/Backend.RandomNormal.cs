namespace DiffusionKernels.Runtime;

public abstract partial class Backend
{
    /// <summary>
    /// Standard normal noise from Philox4x32-10. Element i of sample n is drawn from stream position
    /// offset + i of sample firstSampleIndex + n under key <paramref name="seed"/> (the exact lane mapping is in
    /// <see cref="DiffusionKernels.Kernels.Philox"/>), so the same seed gives bit-identical noise on every backend
    /// and for any batch split. y [N, ...].
    /// </summary>
    public void RandomNormal(Tensor y, ulong seed, long firstSampleIndex = 0, ulong offset = 0)
    {
        const string op = "random normal";
        Check.Owned(this, op, y);
        Check.Float(op, (y, "output"));
        if (firstSampleIndex < 0) throw new ArgumentOutOfRangeException(nameof(firstSampleIndex), $"{op}: sample index must be ≥ 0");
        if (!Supports(BackendOp.RandomNormal))
        {
            OnCpu([y], [y], (cpu, m) => cpu.RandomNormal(m[y], seed, firstSampleIndex, offset));
            return;
        }
        RandomNormalCore(y, seed, firstSampleIndex, offset);
    }

    private protected virtual void RandomNormalCore(Tensor y, ulong seed, long firstSampleIndex, ulong offset) => throw NotImplementedHere(BackendOp.RandomNormal);
}
