namespace DiffusionKernels.Runtime;

public sealed partial class CpuBackend
{
    private protected override void RandomNormalCore(Tensor y, ulong seed, long firstSampleIndex, ulong offset) =>
        Kernels.Cpu.RandomNormal.Fill(F(y), y.Shape[0], seed, (ulong)firstSampleIndex, offset);
}
