using System.Text.Json.Nodes;
using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.IO;
using DiffusionKernels.Runtime.Models;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Sampling;
using DiffusionKernels.Samplers.Schedules;
using DiffusionKernels.Samplers.Solvers;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Reliability;

/// <summary>
/// The audit's third-party inputs, one by one: configs with zero or out-of-range values, broken scheduler configs,
/// non-finite weights and diffusers' -Infinity; each a typed error naming the file and the key or tensor (or a success).
/// </summary>
public class InputValidationTests
{
    private string _dir = "";
    private string ConfigPath => Path.Combine(_dir, "config.json");
    private string SchedulerPath => Path.Combine(_dir, "scheduler_config.json");

    [SetUp]
    public void MakeModel() => _dir = TinyModel.Write(Path.Combine(Directory.CreateTempSubdirectory("dk-inputs-").FullName, "model"));

    [TearDown]
    public void Remove() => Directory.Delete(Path.GetDirectoryName(_dir)!, recursive: true);

    [TestCase("norm_num_groups", 0)]
    [TestCase("attn_norm_num_groups", 0)]
    [TestCase("attention_head_dim", 0)]
    [TestCase("attention_head_dim", 32)]
    [TestCase("norm_eps", -1e-5)]
    [TestCase("norm_eps", 0)]
    [TestCase("mid_block_scale_factor", 0)]
    [TestCase("sample_size", 1e9)]
    [TestCase("sample_size", -8)]
    [TestCase("block_out_channels", 0)]
    [TestCase("layers_per_block", 1e6)]
    [TestCase("num_train_timesteps", 1e8)]
    [TestCase("num_class_embeds", 1e9)]
    [TestCase("in_channels", 2.5)]
    [TestCase("dropout", 2)]
    [TestCase("freq_shift", 4)]
    public void AnOutOfRangeConfigValueNamesTheFileAndTheKey(string key, double value)
    {
        var config = TinyModel.Config();
        config[key] = key == "block_out_channels" ? new JsonArray(8, (int)value) : JsonValue.Create(value);
        File.WriteAllText(ConfigPath, config.ToJsonString());
        Assert.That(() => UNet2DModel.Load(_dir, TestBackends.Cpu).Dispose(),
            Throws.TypeOf<ModelFormatException>().With.Message.Contains(ConfigPath).And.Message.Contains(key));
    }

    [TestCase("", "invalid JSON")]
    [TestCase("{\"num_train_timesteps\": 10", "invalid JSON")]
    [TestCase("[1000]", "expected a JSON object")]
    [TestCase("{\"num_train_timesteps\": 1000.5}", "'num_train_timesteps' must be an integer")]
    [TestCase("{\"num_train_timesteps\": 1e8}", "'num_train_timesteps' must be in [2, 100000]")]
    [TestCase("{\"beta_schedule\": \"cubic\"}", "'beta_schedule' value 'cubic' is not supported")]
    [TestCase("{\"prediction_type\": 3}", "'prediction_type' must be a string")]
    public void ABrokenSchedulerConfigNamesTheFile(string json, string expected)
    {
        File.WriteAllText(SchedulerPath, json);
        Assert.That(() => SchedulerConfig.Load(SchedulerPath), Throws.TypeOf<ModelFormatException>().With.Message.StartsWith(SchedulerPath).And.Message.Contains(expected));
        Assert.That(() => DiffusionModel.Open(_dir, TestBackends.Cpu, 1).Dispose(), Throws.TypeOf<ModelFormatException>().With.Message.StartsWith(SchedulerPath));
    }

    [Test]
    public void AScheduleWithAZeroBetaIsRefused()
    {
        File.WriteAllText(SchedulerPath, """{"beta_start": 0, "beta_end": 0.02}""");
        Assert.That(() => DiffusionModel.Open(_dir, TestBackends.Cpu, 1).Dispose(),
            Throws.TypeOf<ModelFormatException>().With.Message.Contains(SchedulerPath).And.Message.Contains("schedule is unusable"));
    }

    [Test]
    public void DiffusersNegativeInfinityLoadsAndSamples()
    {
        Assert.That(File.ReadAllText(SchedulerPath), Does.Contain("\"lambda_min_clipped\": -Infinity"));
        using var model = DiffusionModel.Open(_dir, TestBackends.Cpu, 2);
        var samples = SampleRunner.Draw(model, SamplerRegistry.Get("dpmpp_2m"), model.Sigmas("discrete", 4), 2, new SamplerOptions { Seed = 1 });
        Assert.That(samples, Is.All.Matches<float>(float.IsFinite));
    }

    [Test]
    public void ANonFiniteWeightIsFoundAtLoadTimeAndNamed()
    {
        var path = Path.Combine(_dir, ModelFiles.WeightsFile);
        var writer = new SafetensorsWriter();
        string victim;
        using (var reader = SafetensorsReader.Open(path))
        {
            victim = reader.Tensors[reader.Tensors.Count / 2].Name;
            foreach (var t in reader.Tensors)
            {
                var values = reader.ReadFloat32(t.Name);
                if (t.Name == victim) values[values.Length - 1] = float.NaN;
                writer.Add(t.Name, values, t.Shape);
            }
        }
        writer.Save(path);
        Assert.That(() => UNet2DModel.Load(_dir, TestBackends.Cpu).Dispose(),
            Throws.TypeOf<ModelFormatException>().With.Message.Contains(path).And.Message.Contains($"'{victim}'").And.Message.Contains("non-finite"));
    }

    [Test]
    public void NonFiniteInitialNoiseIsAnArgumentErrorNotANumericalOne()
    {
        using var model = DiffusionModel.Open(_dir, TestBackends.Cpu, 2);
        var init = new float[2 * 64];
        init[70] = float.PositiveInfinity;
        Assert.That(() => SampleRunner.Draw(model, SamplerRegistry.Get("euler"), model.Sigmas("karras", 2), 2, new SamplerOptions(), init),
            Throws.TypeOf<ArgumentException>().With.Message.Contains("sample 1"));
    }

    [Test]
    public void AllocationsBeyondTheDeviceAreRefusedBeforeAllocating()
    {
        var b = TestBackends.Cpu;
        long held = b.AllocatedBytes;
        int side = 1 << 15;
        Assert.That(() => b.Allocate(1 << 16, side, side), Throws.TypeOf<InsufficientMemoryException>().With.Message.Contains("more than the"));
        Assert.That(b.AllocatedBytes, Is.EqualTo(held), "nothing was allocated");
        using var unet = UNet2DModel.Load(_dir, b);
        Assert.That(() => unet.Compile(64, 16384, 16384), Throws.TypeOf<InsufficientMemoryException>().With.Message.Contains("16384×16384"));
        Assert.That(() => MemoryBudget.Elements("x", long.MaxValue, 2), Throws.TypeOf<InsufficientMemoryException>());
    }

    [Test]
    public void WeightShapesListWhatACheckpointHolds()
    {
        var shapes = UNet2DModel.WeightShapes(UNetConfig.Parse(TinyModel.Config().ToJsonString()));
        using var reader = SafetensorsReader.Open(Path.Combine(_dir, ModelFiles.WeightsFile));
        Assert.That(shapes.Select(s => s.Name).Order(), Is.EqualTo(reader.Tensors.Select(t => t.Name).Order()));
        foreach (var (name, shape) in shapes) Assert.That(reader.Info(name).Shape, Is.EqualTo(shape), name);
    }
}
