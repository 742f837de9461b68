using DiffusionKernels.Medical.Inverse;
using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Sampling;
using DiffusionKernels.Samplers.Solvers;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Reliability;

/// <summary>
/// The public sampling API under real threads: several threads drawing from one model (and from several models on one
/// backend) must each get exactly the samples a lone run gets, bit for bit.
/// </summary>
[NonParallelizable]
public class ConcurrencyTests
{
    private string _dir = "";

    [SetUp]
    public void MakeModel() => _dir = TinyModel.Write(Path.Combine(Directory.CreateTempSubdirectory("dk-threads-").FullName, "model"));

    [TearDown]
    public void Remove() => Directory.Delete(Path.GetDirectoryName(_dir)!, recursive: true);

    private static float[] Draw(DiffusionModel model, ulong seed, string sampler = "dpmpp_2m_sde") =>
        SampleRunner.Draw(model, SamplerRegistry.Get(sampler), model.Sigmas("karras", 6), 5, new SamplerOptions { Seed = seed });

    /// <summary>Runs <paramref name="work"/> on <paramref name="threads"/> threads released together; returns their results.</summary>
    private static T[] OnThreads<T>(int threads, Func<int, T> work)
    {
        var results = new T[threads];
        var errors = new Exception?[threads];
        using var start = new Barrier(threads);
        var pool = Enumerable.Range(0, threads).Select(k => new Thread(() =>
        {
            try
            {
                start.SignalAndWait();
                results[k] = work(k);
            }
            catch (Exception e)
            {
                errors[k] = e;
            }
        })).ToList();
        pool.ForEach(t => t.Start());
        pool.ForEach(t => t.Join());
        foreach (var e in errors) if (e is not null) throw new AggregateException(e);
        return results;
    }

    [Test]
    public void ThreadsDrawingFromOneModelGetTheSamplesOfALoneRun()
    {
        using var model = DiffusionModel.Open(_dir, TestBackends.Cpu, 2);
        var alone = Enumerable.Range(0, 4).Select(k => Draw(model, (ulong)k + 1)).ToArray();
        // Four threads, three rounds each, all on the one model: every output must match its lone run exactly.
        var together = OnThreads(4, k => Enumerable.Range(0, 3).Select(_ => Draw(model, (ulong)k + 1)).ToArray());
        for (int k = 0; k < 4; k++)
            for (int round = 0; round < 3; round++)
                Close.Identical(alone[k], together[k][round], $"thread {k}, round {round}");
        Assert.That(alone[0], Is.Not.EqualTo(alone[1]), "different seeds give different samples");
    }

    [Test]
    public void ThreadsUsingSeparateModelsOnOneBackendGetTheSamplesOfALoneRun()
    {
        var models = Enumerable.Range(0, 3).Select(_ => DiffusionModel.Open(_dir, TestBackends.Cpu, 3)).ToArray();
        try
        {
            var alone = Draw(models[0], 7, "heun");
            var together = OnThreads(3, k => Draw(models[k], 7, "heun"));
            foreach (var t in together) Close.Identical(alone, t, "separate models");
        }
        finally
        {
            foreach (var m in models) m.Dispose();
        }
    }

    [Test]
    public void ABackendThatTakesNoConcurrentCallsIsSerializedAcrossModels()
    {
        // ILGPU's CPU accelerator stands for CUDA here: one stream, lazily built kernels. Two models share the backend.
        var backend = TestBackends.IlgpuCpu;
        Assert.That(backend.SupportsConcurrentCalls, Is.False);
        var spec = Path.Combine(Path.GetDirectoryName(_dir)!, "gmm.json");
        File.WriteAllText(spec, """{"shape": [1, 4, 4], "weights": [0.3, 0.7], "means": [-0.8, 0.6], "stds": [0.1, 0.2]}""");
        using var a = DiffusionModel.Open("gmm:" + spec, backend, 2);
        using var b = DiffusionModel.Open("gmm:" + spec, backend, 2);
        var alone = Draw(a, 3, "euler");
        var together = OnThreads(2, k => Draw(k == 0 ? a : b, 3, "euler"));
        foreach (var t in together) Close.Identical(alone, t, "two models on one ILGPU backend");
    }

    [Test]
    public void ExclusiveUseIsReentrantAndReleased()
    {
        using var model = DiffusionModel.Open(_dir, TestBackends.Cpu, 1);
        using (model.Exclusive())
        using (model.Exclusive())
        {
            // A draw inside the caller's own exclusive section does not deadlock.
            Assert.That(Draw(model, 1), Has.Length.EqualTo(5 * 64));
        }
        var other = OnThreads(1, _ => Draw(model, 1));
        Assert.That(other[0], Has.Length.EqualTo(5 * 64), "released: another thread can draw");
    }

    private static float[] Images(int count) => [.. Enumerable.Range(0, count * 64).Select(i => MathF.Sin(i * 0.37f) * 0.8f)];

    private static float[] Anomaly(DiffusionModel model, ulong seed) =>
        DiffusionPrior.AnomalyReconstruct(model, Images(3), 3, 2.0, 4, SamplerRegistry.Get("ddpm"), new SamplerOptions { Seed = seed });

    [Test]
    public void ThreadsSharingOneModelInTheDiffusionPriorGetTheResultOfALoneCall()
    {
        // The prior uses the model's denoiser directly, so it must hold Exclusive() as SampleRunner does.
        using var model = DiffusionModel.Open(_dir, TestBackends.Cpu, 2);
        var alone = Enumerable.Range(0, 3).Select(k => Anomaly(model, (ulong)k + 1)).ToArray();
        var together = OnThreads(3, k => Enumerable.Range(0, 3).Select(_ => Anomaly(model, (ulong)k + 1)).ToArray());
        for (int k = 0; k < 3; k++)
            for (int round = 0; round < 3; round++)
                Close.Identical(alone[k], together[k][round], $"thread {k}, round {round}");
        Assert.That(alone[0], Is.Not.EqualTo(alone[1]), "different seeds give different results");
    }

    [Test]
    public void TheDiffusionPriorWaitsForAnotherHolderOfTheModel()
    {
        using var model = DiffusionModel.Open(_dir, TestBackends.Cpu, 2);
        float[] Run() => DiffusionPrior.Denoise(model, Images(2), 2, 0.2, 3, SamplerRegistry.Get("euler"), new SamplerOptions());
        var warm = Run(); // compiled and warmed: a free run takes milliseconds
        float[]? result = null;
        var worker = new Thread(() => result = Run());
        using (model.Exclusive())
        {
            worker.Start();
            // While this thread holds the model the prior cannot run.
            Assert.That(worker.Join(500), Is.False, "the prior ran while another caller held the model");
        }
        Assert.That(worker.Join(TimeSpan.FromMinutes(2)), Is.True, "the prior runs once the model is released");
        Close.Identical(warm, result!, "the waiting run");
    }
}
