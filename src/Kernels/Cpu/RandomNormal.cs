namespace DiffusionKernels.Kernels.Cpu;

/// <summary>
/// Standard normal noise from Philox4x32-10 with the layout documented on <see cref="Philox"/>: element i of
/// sample n is the normal at stream position offset + i of sample firstSampleIndex + n under key seed. Bit-identical
/// to the ILGPU kernel, which calls the same scalar functions.
/// </summary>
internal static class RandomNormal
{
    private const int Chunk = 4096; // elements per parallel work item, a multiple of 4

    /// <summary>Fills <paramref name="y"/>, <paramref name="samples"/> samples of equal length, with noise.</summary>
    public static unsafe void Fill(Span<float> y, int samples, ulong seed, ulong firstSampleIndex, ulong offset)
    {
        int perSample = y.Length / samples;
        if (perSample == 0) return;
        int chunks = (perSample + Chunk - 1) / Chunk;
        fixed (float* py = y)
        {
            var job = new Job(py, perSample, chunks, seed, firstSampleIndex, offset);
            int tasks = samples * chunks;
            if (y.Length < 1 << 14 || tasks == 1 || Environment.ProcessorCount == 1)
            {
                for (int t = 0; t < tasks; t++) Run(job, t);
                return;
            }
            Parallel.For(0, tasks, t => Run(job, t));
        }
    }

    private readonly unsafe struct Job(float* y, int perSample, int chunks, ulong seed, ulong firstSample, ulong offset)
    {
        public readonly float* Y = y;
        public readonly int PerSample = perSample, Chunks = chunks;
        public readonly ulong Seed = seed, FirstSample = firstSample, Offset = offset;
    }

    private static unsafe void Run(Job j, int task)
    {
        int n = task / j.Chunks, chunk = task - n * j.Chunks;
        int i0 = chunk * Chunk, i1 = Math.Min(i0 + Chunk, j.PerSample);
        FillRun(j.Y + (long)n * j.PerSample + i0, i1 - i0, j.Seed, j.FirstSample + (ulong)n, j.Offset + (ulong)i0);
    }

    /// <summary>dst[k] = the normal at stream position <paramref name="position"/> + k of <paramref name="sample"/>.</summary>
    private static unsafe void FillRun(float* dst, int count, ulong seed, ulong sample, ulong position)
    {
        int k = 0;
        while (k < count)
        {
            ulong p = position + (ulong)k;
            var quad = Philox.NormalQuad(Philox.NoiseBlock(seed, sample, p >> 2));
            int lane = (int)(p & 3);
            if (lane == 0 && k + 4 <= count)
            {
                dst[k] = Philox.ToFloat(quad.X0);
                dst[k + 1] = Philox.ToFloat(quad.X1);
                dst[k + 2] = Philox.ToFloat(quad.X2);
                dst[k + 3] = Philox.ToFloat(quad.X3);
                k += 4;
                continue;
            }
            for (; lane < 4 && k < count; lane++, k++)
                dst[k] = Philox.ToFloat(lane == 0 ? quad.X0 : lane == 1 ? quad.X1 : lane == 2 ? quad.X2 : quad.X3);
        }
    }
}
