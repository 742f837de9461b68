using DiffusionKernels.Medical.Inverse;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Sampling;
using DiffusionKernels.Samplers.Solvers;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Reliability;

/// <summary>
/// The diffusion prior uses the model's denoiser directly, so it must hold <see cref="DiffusionModel.Exclusive"/>: threads
/// sharing one model are serialized and each gets exactly the result of a lone call.
/// </summary>
[NonParallelizable]
public class MedicalConcurrencyTests
{
    private string _dir = "";

    [SetUp]
    public void MakeModel() => _dir = TinyModel.Write(Path.Combine(Directory.CreateTempSubdirectory("dk-prior-threads-").FullName, "model"));

    [TearDown]
    public void Remove() => Directory.Delete(Path.GetDirectoryName(_dir)!, recursive: true);

    private static float[] Images(int count) => [.. Enumerable.Range(0, count * 64).Select(i => MathF.Sin(i * 0.37f) * 0.8f)];

    private static float[] Anomaly(DiffusionModel model, ulong seed) =>
        DiffusionPrior.AnomalyReconstruct(model, Images(3), 3, 2.0, 4, SamplerRegistry.Get("ddpm"), new SamplerOptions { Seed = seed });

    [Test]
    public void ThreadsSharingOneModelGetTheResultOfALoneCall()
    {
        using var model = DiffusionModel.Open(_dir, TestBackends.Cpu, 2);
        var alone = Enumerable.Range(0, 3).Select(k => Anomaly(model, (ulong)k + 1)).ToArray();
        var results = new float[3][][];
        var errors = new Exception?[3];
        using var start = new Barrier(3);
        var threads = Enumerable.Range(0, 3).Select(k => new Thread(() =>
        {
            try
            {
                start.SignalAndWait();
                results[k] = [.. Enumerable.Range(0, 3).Select(_ => Anomaly(model, (ulong)k + 1))];
            }
            catch (Exception e)
            {
                errors[k] = e;
            }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        foreach (var e in errors) if (e is not null) throw new AggregateException(e);
        for (int k = 0; k < 3; k++)
            for (int round = 0; round < 3; round++)
                Close.Identical(alone[k], results[k][round], $"thread {k}, round {round}");
        Assert.That(alone[0], Is.Not.EqualTo(alone[1]), "different seeds give different results");
    }

    [Test]
    public void ThePriorWaitsForAnotherHolderOfTheModel()
    {
        using var model = DiffusionModel.Open(_dir, TestBackends.Cpu, 2);
        float[] Run() => DiffusionPrior.Denoise(model, Images(2), 2, 0.2, 3, SamplerRegistry.Get("euler"), new SamplerOptions());
        var warm = Run(); // compiled and warmed: a free run takes milliseconds
        float[]? result = null;
        var worker = new Thread(() => result = Run());
        using (model.Exclusive())
        {
            worker.Start();
            // While this thread holds the model the prior cannot run (it would otherwise finish in milliseconds).
            Assert.That(worker.Join(500), Is.False, "the prior ran while another caller held the model");
        }
        Assert.That(worker.Join(TimeSpan.FromMinutes(2)), Is.True, "the prior runs once the model is released");
        Close.Identical(warm, result!, "the waiting run");
    }
}
