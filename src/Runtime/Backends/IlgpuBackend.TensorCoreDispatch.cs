using DiffusionKernels.Kernels.Gpu;
using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace DiffusionKernels.Runtime;

/// <summary>Which tensor-core launches the backend picks (the kept versions stay selectable, the llm.c habit).</summary>
internal enum TensorCoreTiling
{
    /// <summary>Tile shape and split-K by problem size (<see cref="TensorCoreTilePolicy"/>): the default.</summary>
    BySize,
    /// <summary>The first version: 64×64 tiles over the whole K for every problem.</summary>
    Fixed64,
}

public sealed partial class IlgpuBackend
{
    private MemoryBuffer1D<float, Stride1D.Dense>? _splitKWorkspace;

    /// <summary>How the tensor-core GEMMs and convolutions choose their tiles (internal switch for benchmarks and tests).</summary>
    internal TensorCoreTiling TensorCoreTiling { get; set; } = TensorCoreTiling.BySize;

    /// <summary>
    /// Runs the fp32 tier's GEMMs and convolutions through the 3xTF32 tensor-core kernels (fp32-accurate,
    /// <see cref="ThreeTf32"/>) instead of the CUDA-core kernels. Off by default: whether they are faster is for a GPU
    /// measurement to show.
    /// </summary>
    internal bool Fp32OnThreeTf32 { get; set; }

    /// <summary>True when the fp32 tier runs on the 3xTF32 kernels (<see cref="Fp32OnThreeTf32"/>) and they fit this accelerator.</summary>
    private bool Fp32TierOnThreeTf32 => _precision == Precision.Fp32 && Fp32OnThreeTf32 && TensorCoreTile.Fits(Accelerator);

    /// <summary>The SMs the tile policy fills: the CUDA device's count, else an H100/H200's (so the emulator takes the same decisions).</summary>
    internal int Multiprocessors => Accelerator is CudaAccelerator cuda && cuda.NumMultiprocessors > 0 ? cuda.NumMultiprocessors : TensorCoreTilePolicy.DefaultMultiprocessors;

    /// <summary>
    /// Queues the GEMM on tensor cores when the tier asks for them (tf32; fp32 with <see cref="Fp32OnThreeTf32"/>),
    /// with the launch of <see cref="ChooseLaunch"/>; false leaves it to the CUDA-core kernel.
    /// </summary>
    private bool TryTensorCoreGemm(ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, ArrayView<float> bias, ArrayView<float> residual, GemmParams p, int batch)
    {
        if (Fp32TierOnThreeTf32)
        {
            (_tensorCoreGemm ??= new TensorCoreGemmKernels(Accelerator)).RunThreeTf32(Stream, a, b, c, bias, residual, p, batch);
            return true;
        }
        if (_precision != Precision.Tf32) return false;
        var kernels = _tensorCoreGemm ??= new TensorCoreGemmKernels(Accelerator);
        var launch = ChooseLaunch(p.M, p.N, p.K, batch, kernels.Has128);
        kernels.Run(Stream, a, b, c, bias, residual, p, batch, launch, SplitKWorkspace(TensorCoreGemmKernels.WorkspaceFloats(p.M, p.N, p.K, batch, launch)));
        return true;
    }

    /// <summary>
    /// Queues the tensor-core convolution with the launch of <see cref="ChooseLaunch"/>: TF32 (64×64 tiles, split-K or
    /// 128×128 tiles by size), or in the fp32 tier under <see cref="Fp32OnThreeTf32"/> the 3xTF32 kernel (64×64 tiles,
    /// split-K by size).
    /// </summary>
    private void RunTensorCoreConv2d(ArrayView<float> x, ArrayView<float> skip, ArrayView<float> w, ArrayView<float> bias, ArrayView<float> sampleBias,
        ArrayView<float> residual, ArrayView<float> y, Conv2dGeometry g)
    {
        var kernels = _tensorCoreConv2d ??= new TensorCoreConv2dKernels(Accelerator);
        bool threeTf32 = _precision != Precision.Tf32;
        var launch = ChooseLaunch(g.OutChannels, g.Batch * g.OutHeight * g.OutWidth, g.InChannels * g.KernelHeight * g.KernelWidth, 1, has128: !threeTf32 && kernels.Has128);
        long floats = TensorCoreConv2dKernels.WorkspaceFloats(g, launch);
        var workspace = floats > 0 ? SplitKWorkspace(floats) : y;
        if (threeTf32) kernels.RunThreeTf32(Stream, x, skip, w, bias, sampleBias, residual, y, g, launch, workspace);
        else kernels.Run(Stream, x, skip, w, bias, sampleBias, residual, y, g, launch, workspace);
    }

    /// <summary>The policy's launch (or the fixed first version), 128×128 tiles only where the kernel has them.</summary>
    private TensorCoreLaunch ChooseLaunch(int m, int n, int k, int batch, bool has128)
    {
        if (TensorCoreTiling == TensorCoreTiling.Fixed64) return TensorCoreLaunch.Fixed64;
        var launch = TensorCoreTilePolicy.Choose(m, n, k, batch, Multiprocessors);
        return launch.Tile == TensorCoreTileShape.Tile128 && !has128 ? TensorCoreLaunch.Fixed64 : launch;
    }

    /// <summary>
    /// The first <paramref name="floats"/> floats of the split-K workspace (empty for none). Launches reuse it in stream
    /// order, so no wait is needed between them. It grows rarely: at first use it is sized for any split the policy
    /// picks on this device (at most 2·SMs partial 64×64 tiles), and a larger request (an explicit split) waits for the
    /// queued work, replaces it and bumps <see cref="ScratchGeneration"/> so a captured graph is rebuilt rather than
    /// replayed with the freed buffer. The eager warm-up run of a plan does any growing, never its capture.
    /// </summary>
    private ArrayView<float> SplitKWorkspace(long floats)
    {
        if (floats == 0) return ArrayView<float>.Empty;
        if (_splitKWorkspace is null || _splitKWorkspace.Length < floats)
        {
            if (_splitKWorkspace is not null)
            {
                WaitForDevice(); // queued launches may still use the old buffer
                _splitKWorkspace.Dispose();
            }
            long policyBound = 2L * Multiprocessors * TensorCoreTile.TileM * TensorCoreTile.TileN;
            _splitKWorkspace = Accelerator.Allocate1D<float>(Math.Max(floats, policyBound));
            _scratchGeneration++;
        }
        return _splitKWorkspace.View.SubView(0, floats);
    }
}
