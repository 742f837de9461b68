using ILGPU;
using ILGPU.Runtime;

namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// Standard normal noise from Philox4x32-10 (layout on <see cref="Philox"/>): one thread per Philox block of a
/// sample, writing the up to four elements that block covers. Integer-only math makes it bit-identical to
/// <see cref="Cpu.RandomNormal"/>.
/// </summary>
internal sealed class RandomNormalKernel
{
    private readonly Action<AcceleratorStream, Index1D, ArrayView<float>, NoiseLayout> _kernel;

    /// <summary>Loads the kernel on <paramref name="accelerator"/>.</summary>
    public RandomNormalKernel(Accelerator accelerator) =>
        _kernel = accelerator.LoadAutoGroupedKernel<Index1D, ArrayView<float>, NoiseLayout>(Fill);

    /// <summary>Fills <paramref name="y"/> (<paramref name="samples"/> samples of equal length) with noise.</summary>
    public void Run(AcceleratorStream stream, ArrayView<float> y, int samples, ulong seed, ulong firstSampleIndex, ulong offset)
    {
        long perSample = y.Length / samples;
        if (perSample == 0) return;
        ulong first = offset >> 2, last = (offset + (ulong)perSample - 1) >> 2;
        long blocks = (long)(last - first) + 1;
        long threads = blocks * samples;
        if (threads > int.MaxValue) throw new ArgumentException($"random normal: {y.Length} elements are too many for one launch");
        _kernel(LaunchCounter.Count(stream), (int)threads, y, new NoiseLayout
        {
            PerSample = (int)perSample,
            BlocksPerSample = (int)blocks,
            Seed = seed,
            FirstSample = firstSampleIndex,
            Offset = offset,
        });
    }

    /// <summary>The launch's layout: samples of <c>PerSample</c> elements, stream positions from <c>Offset</c>.</summary>
    public struct NoiseLayout
    {
        /// <summary>Elements per sample.</summary>
        public int PerSample;
        /// <summary>Philox blocks that cover one sample's positions.</summary>
        public int BlocksPerSample;
        /// <summary>Philox key.</summary>
        public ulong Seed;
        /// <summary>Sample number of the first sample.</summary>
        public ulong FirstSample;
        /// <summary>Stream position of element 0.</summary>
        public ulong Offset;
    }

    private static void Fill(Index1D index, ArrayView<float> y, NoiseLayout l)
    {
        int n = index / l.BlocksPerSample;
        int k = index - n * l.BlocksPerSample;
        ulong block = (l.Offset >> 2) + (ulong)k;
        var quad = Philox.NormalQuad(Philox.NoiseBlock(l.Seed, l.FirstSample + (ulong)n, block));
        long sampleBase = (long)n * l.PerSample;
        // Element i sits at position offset + i, so lane j of this block is element 4·block + j − offset.
        long i0 = (long)((block << 2) - l.Offset);
        Put(y, sampleBase, i0, l.PerSample, quad.X0);
        Put(y, sampleBase, i0 + 1, l.PerSample, quad.X1);
        Put(y, sampleBase, i0 + 2, l.PerSample, quad.X2);
        Put(y, sampleBase, i0 + 3, l.PerSample, quad.X3);
    }

    private static void Put(ArrayView<float> y, long sampleBase, long i, int perSample, uint q28)
    {
        if (i >= 0 && i < perSample) y[sampleBase + i] = Philox.ToFloat(q28);
    }
}
