using System.Diagnostics;
using System.Globalization;
using System.Text;
using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.IO;
using DiffusionKernels.Runtime.Models;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Sampling;
using DiffusionKernels.Samplers.Schedules;
using DiffusionKernels.Samplers.Solvers;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Reliability.Fuzz;

/// <summary>
/// The seeded structural fuzzer: mutants of a model's safetensors header, config.json and scheduler_config.json, of a
/// mixture spec and of .npy headers go through the library entry points the CLI uses (UNet2DModel.Load,
/// DiffusionModel.Open and a short sampling run, SchedulerConfig.Load, Npy.Read). Each must either succeed (and then
/// give finite σ grids) or throw one of the documented exception types with a message that names the file, within a
/// time limit; anything else (another exception, a hang) fails with the seed and the mutation. The seed is fixed so CI
/// is reproducible; DK_FUZZ_SEED explores other seeds.
/// </summary>
[NonParallelizable]
public class FuzzTests
{
    private static readonly TimeSpan PerMutantLimit = TimeSpan.FromSeconds(30);
    private static readonly Type[] LoadErrors = [typeof(ModelFormatException), typeof(InsufficientMemoryException)];

    private string _dir = "";
    private string _model = "";
    private readonly Dictionary<string, int> _outcomes = [];

    private static int Seed(int category) =>
        (Environment.GetEnvironmentVariable("DK_FUZZ_SEED") is { } s && int.TryParse(s, out var seed) ? seed : 20261201) * 31 + category;

    [SetUp]
    public void MakeModel()
    {
        _dir = Directory.CreateTempSubdirectory("dk-fuzz-").FullName;
        _model = TinyModel.Write(Path.Combine(_dir, "model"));
        _outcomes.Clear();
    }

    [TearDown]
    public void Remove()
    {
        TestContext.Out.WriteLine(string.Join(", ", _outcomes.OrderByDescending(o => o.Value).Select(o => $"{o.Key}: {o.Value}")));
        Directory.Delete(_dir, recursive: true);
    }

    [Test]
    public void SafetensorsHeaders()
    {
        var path = Path.Combine(_model, ModelFiles.WeightsFile);
        var original = File.ReadAllBytes(path);
        var mutator = new SafetensorsMutator(new Random(Seed(1)));
        for (int i = 0; i < 650; i++)
        {
            var (bytes, what) = mutator.Mutate(original);
            File.WriteAllBytes(path, bytes);
            Expect($"safetensors #{i}: {what}", path, LoadErrors, () => UNet2DModel.Load(_model, TestBackends.Cpu).Dispose());
        }
        File.WriteAllBytes(path, original);
    }

    [Test]
    public void ModelConfigs()
    {
        var path = Path.Combine(_model, "config.json");
        var original = File.ReadAllText(path);
        var mutator = new JsonMutator(new Random(Seed(2)));
        for (int i = 0; i < 700; i++)
        {
            var (text, what) = mutator.Mutate(original);
            File.WriteAllText(path, text);
            var label = $"config.json #{i}: {what}";
            if (Expect(label, path, LoadErrors, () => UNet2DModel.Load(_model, TestBackends.Cpu).Dispose()))
                ExpectSampling(label, path);
        }
    }

    [Test]
    public void SchedulerConfigs()
    {
        var path = Path.Combine(_model, "scheduler_config.json");
        var original = File.ReadAllText(path);
        var mutator = new JsonMutator(new Random(Seed(3)));
        for (int i = 0; i < 450; i++)
        {
            var (text, what) = mutator.Mutate(original);
            File.WriteAllText(path, text);
            var label = $"scheduler_config.json #{i}: {what}";
            if (Expect(label, path, [typeof(ModelFormatException)], () => SchedulerConfig.Load(path)))
                ExpectSampling(label, path);
        }
    }

    [Test]
    public void MixtureSpecs()
    {
        var path = Path.Combine(_dir, "gmm.json");
        const string original = """{"shape": [1, 4, 4], "weights": [0.3, 0.7], "means": [-0.8, 0.6], "stds": [0.1, 0.2], "beta_schedule": "linear", "num_train_timesteps": 1000}""";
        var mutator = new JsonMutator(new Random(Seed(4)));
        for (int i = 0; i < 200; i++)
        {
            var (text, what) = mutator.Mutate(original);
            File.WriteAllText(path, text);
            ExpectSampling($"gmm spec #{i}: {what}", path, "gmm:" + path);
        }
    }

    [Test]
    public void NpyHeaders()
    {
        var path = Path.Combine(_dir, "x.npy");
        Npy.Write(path, TestData.Normal(128, 3), [2, 1, 8, 8]);
        var original = File.ReadAllBytes(path);
        var mutator = new NpyMutator(new Random(Seed(5)));
        for (int i = 0; i < 500; i++)
        {
            var (bytes, what) = mutator.Mutate(original);
            File.WriteAllBytes(path, bytes);
            Expect($".npy #{i}: {what}", path, [typeof(ModelFormatException)], () =>
            {
                var a = Npy.Read(path);
                Assert.That(a.Length, Is.EqualTo(a.Shape.Aggregate(1L, (p, d) => p * d)), "element count matches the shape");
                if (a.Length > 0) TensorFiles.LoadNpy(TestBackends.Cpu, path).Dispose();
            });
        }
    }

    /// <summary>Opens the model (or <paramref name="source"/>), checks its σ grids and draws two samples in two steps.</summary>
    private void ExpectSampling(string label, string file, string? source = null) =>
        Expect(label + " (sampling)", file, [.. LoadErrors, typeof(NumericalInstabilityException)], () =>
        {
            using var model = DiffusionModel.Open(source ?? _model, TestBackends.Cpu, 2);
            foreach (var grid in new[] { "karras", "discrete" })
            {
                var sigmas = model.Sigmas(grid, 3);
                Assert.That(sigmas, Is.All.Matches<double>(s => double.IsFinite(s) && s >= 0), $"{label}: {grid} σ grid");
            }
            var samples = SampleRunner.Draw(model, SamplerRegistry.Get("euler"), model.Sigmas("karras", 2), 2, new SamplerOptions { Seed = 1 });
            Assert.That(samples, Is.All.Matches<float>(float.IsFinite), $"{label}: samples");
        });

    /// <summary>
    /// Runs <paramref name="action"/> under the time limit; true when it succeeded. Fails unless it succeeded or threw one
    /// of <paramref name="allowed"/> whose message names <paramref name="file"/>'s folder (memory errors name sizes instead).
    /// </summary>
    private bool Expect(string label, string file, Type[] allowed, Action action)
    {
        var clock = Stopwatch.StartNew();
        var run = Task.Run(action);
        bool finished;
        try
        {
            finished = run.Wait(PerMutantLimit);
        }
        catch (AggregateException e) when (e.InnerExceptions.Count == 1)
        {
            var error = e.InnerExceptions[0];
            if (error is AssertionException) throw error;
            var name = error.GetType().Name;
            _outcomes[name] = _outcomes.GetValueOrDefault(name) + 1;
            if (!allowed.Contains(error.GetType()))
                Assert.Fail($"{label}\n  threw {error.GetType().FullName}, not one of {string.Join(", ", allowed.Select(t => t.Name))}:\n{error}\n  file:\n{Excerpt(file)}");
            var folder = Path.GetDirectoryName(file)!;
            if (error is ModelFormatException && !error.Message.Contains(folder, StringComparison.Ordinal))
                Assert.Fail($"{label}\n  the message does not name the file: {error.Message}");
            return false;
        }
        if (!finished) Assert.Fail($"{label}\n  still running after {PerMutantLimit.TotalSeconds} s (a hang)\n  file:\n{Excerpt(file)}");
        _outcomes["succeeded"] = _outcomes.GetValueOrDefault("succeeded") + 1;
        Assert.That(clock.Elapsed, Is.LessThan(PerMutantLimit));
        return true;
    }

    private static string Excerpt(string file)
    {
        var bytes = File.ReadAllBytes(file);
        var text = Encoding.Latin1.GetString(bytes, 0, Math.Min(bytes.Length, 600));
        return new string(text.Select(c => char.IsControl(c) && c != '\n' ? '.' : c).ToArray()) + (bytes.Length > 600 ? string.Create(CultureInfo.InvariantCulture, $"… ({bytes.Length} bytes)") : "");
    }
}
