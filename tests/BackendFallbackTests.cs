using DiffusionKernels.Cli.Commands;
using DiffusionKernels.Kernels.Cpu;
using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.Models;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Denoisers;
using DiffusionKernels.Samplers.Solvers;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests;

/// <summary>A backend can land one op at a time: ops it does not support run on the CPU backend.</summary>
public class BackendFallbackTests
{
    /// <summary>
    /// A host-memory backend that implements the memory methods and only the ops it is given (Axpby,
    /// LinearCombination and ConcatChannels at most); it overrides no other op and records every op it is asked about.
    /// </summary>
    private sealed class PartialBackend(params BackendOp[] supported) : Backend
    {
        public List<BackendOp> Asked { get; } = [];
        public int OwnOps { get; private set; }

        public override string Name => "partial";
        public override DeviceInfo Device => CpuBackend.Describe() with { Name = "partial" };

        internal override bool Supports(BackendOp op)
        {
            Asked.Add(op);
            return supported.Contains(op);
        }

        public override void Synchronize() { }

        private static float[] Floats(Tensor t) => ((HostStorage)t.Storage).Floats!;
        private static long[] Longs(Tensor t) => ((HostStorage)t.Storage).Longs!;
        private static Span<float> F(Tensor t) => Floats(t).AsSpan((int)t.Offset, (int)t.Length);
        private static Span<long> L(Tensor t) => Longs(t).AsSpan((int)t.Offset, (int)t.Length);

        private protected override TensorStorage AllocateStorage(long length, DType dtype) => new HostStorage(length, dtype);
        private protected override void CopyFromHostCore(ReadOnlySpan<float> src, Tensor dst) => src.CopyTo(F(dst));
        private protected override void CopyFromHostCore(ReadOnlySpan<long> src, Tensor dst) => src.CopyTo(L(dst));
        private protected override void CopyToHostCore(Tensor src, Span<float> dst) => F(src).CopyTo(dst);
        private protected override void CopyToHostCore(Tensor src, Span<long> dst) => L(src).CopyTo(dst);
        private protected override void FillCore(Tensor dst, float value) => F(dst).Fill(value);

        private protected override void CopyCore(Tensor src, Tensor dst)
        {
            if (src.DType == DType.Float32) F(src).CopyTo(F(dst));
            else L(src).CopyTo(L(dst));
        }

        private protected override void AxpbyCore(float alpha, Tensor a, float beta, Tensor? b, Tensor y)
        {
            OwnOps++;
            if (b is null) Elementwise.Scale(alpha, F(a), F(y));
            else Elementwise.Axpby(alpha, F(a), beta, F(b), F(y));
        }

        private protected override void ConcatChannelsCore(Tensor a, Tensor b, Tensor y)
        {
            OwnOps++;
            int batch = a.Shape[0];
            Elementwise.ConcatChannels(F(a), F(b), F(y), batch, (int)(a.Length / batch), (int)(b.Length / batch));
        }

        private protected override void LinearCombinationCore(Tensor y, ReadOnlySpan<Tensor> xs, ReadOnlySpan<float> coefficients, bool perSample)
        {
            OwnOps++;
            var terms = new LinearTerms();
            foreach (var x in xs) terms.Add(F(x));
            Elementwise.LinearCombination(F(y), terms, coefficients, y.Shape[0], perSample);
        }

        private sealed class HostStorage : TensorStorage
        {
            public HostStorage(long length, DType dtype) : base(length, dtype)
            {
                if (dtype == DType.Float32) Floats = new float[length];
                else Longs = new long[length];
            }

            public float[]? Floats { get; private set; }
            public long[]? Longs { get; private set; }

            protected override void Release() => (Floats, Longs) = (null, null);
        }
    }

    [Test]
    public void AUNetRunsOnABackendWithOneOpOfItsOwnExactlyAsOnTheCpu()
    {
        var x = TestData.Normal(2 * 8 * 8, 5, 2f);
        float[] Denoise(Backend b, UNetFusions fusions)
        {
            using var unet = UNet2DModel.Load(SampleCommand.FindBundledModel(), b);
            using var plan = unet.Compile(2, 8, 8, fusions);
            using var input = b.Upload(x, new Shape(2, 1, 8, 8));
            return plan.Forward(input, [500f, 20f]).ToArray();
        }
        // The skip concats as steps of their own (the default plan reads them in place, in norm1 and conv_shortcut),
        // so the partial backend runs its one op.
        var withConcats = UNetFusions.All with { ConcatInReaders = false };
        using var partial = new PartialBackend(BackendOp.ConcatChannels);
        // Every fallback runs the CPU backend's kernels on copies, so the result is bit-identical.
        Close.Identical(Denoise(TestBackends.Cpu, withConcats), Denoise(partial, withConcats), "u-net on the partial backend");
        Assert.That(partial.Asked, Does.Contain(BackendOp.Conv2d).And.Contain(BackendOp.GroupNorm).And.Contain(BackendOp.Attention)
            .And.Contain(BackendOp.Linear).And.Contain(BackendOp.TimestepEmbedding), "ops that fell back to the CPU");
        Assert.That(partial.OwnOps, Is.GreaterThan(0), "the partial backend ran its own concat (the skip connections)");
        // The default plan's fused ops (the concat read in place among them) fall back as well, with the same bits.
        Close.Identical(Denoise(TestBackends.Cpu, UNetFusions.All), Denoise(partial, UNetFusions.All), "default plan on the partial backend");
    }

    [Test]
    public void ASamplerRunsOnABackendWithOnlyItsStepOps()
    {
        var xT = TestData.Normal(3 * 4, 6, 10f);
        float[] Sample(Backend b)
        {
            using var d = new GaussianMixtureDenoiser(b, [1, 2, 2], [0.4, 0.6], [[-1f], [1.5f]], [0.3, 0.5]);
            using var x = b.Upload(xT, new Shape(3, 1, 2, 2));
            using (var ctx = new SamplerContext(d, x, new SamplerOptions { Seed = 2 })) SamplerRegistry.Get("dpmpp_2m_sde").Sample(x, SigmaGrids.Karras(12, 0.05, 10), ctx);
            return x.ToArray();
        }
        using var partial = new PartialBackend(BackendOp.LinearCombination, BackendOp.Axpby);
        Close.Identical(Sample(TestBackends.Cpu), Sample(partial), "samples on the partial backend");
        Assert.That(partial.Asked, Does.Contain(BackendOp.RandomNormal).And.Contain(BackendOp.FlagNonFinite));
        Assert.That(partial.OwnOps, Is.GreaterThan(0));
    }

    [Test]
    public void AnOpClaimedButNotImplementedIsAClearError()
    {
        using var claims = new PartialBackend(BackendOp.Axpby, BackendOp.Clamp);
        using var x = claims.Upload([1f, -2f, 3f], new Shape(3));
        var e = Assert.Throws<NotSupportedException>(() => claims.Clamp(x, -1f, 1f, x))!;
        Assert.That(e.Message, Does.Contain("partial").And.Contain("Clamp").And.Contain("Supports"));
        claims.Scale(x, 2f, x);
        Assert.That(x.ToArray(), Is.EqualTo(new[] { 2f, -4f, 6f }));
    }

    [Test]
    public void TheEngineBackendsSupportEveryOp()
    {
        foreach (var op in Enum.GetValues<BackendOp>())
        {
            Assert.That(TestBackends.Cpu.Supports(op), $"cpu {op}");
            Assert.That(TestBackends.IlgpuCpu.Supports(op), $"ilgpu-cpu {op}");
        }
    }
}
