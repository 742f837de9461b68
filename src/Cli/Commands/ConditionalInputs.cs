using System.CommandLine;
using DiffusionKernels.Medical.Conditional;
using DiffusionKernels.Medical.Evaluation;
using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers.Sampling;
using DiffusionKernels.Samplers.Solvers;

namespace DiffusionKernels.Cli.Commands;

/// <summary>What <c>dk segment</c> and <c>dk translate</c> share: the model, its checks, and the sampling options.</summary>
internal static class ConditionalInputs
{
    /// <summary>The options both commands take, checked (naming the flag).</summary>
    public sealed record Common(string? Model, int N, int ValidationN, int Samples, int Steps, string Sampler, ulong Seed, int Batch, string Output, bool Force, string Device, bool AllowNonFinite, string Precision = "fp32");

    /// <summary>The options both commands declare (the descriptions name each task's inputs and outputs).</summary>
    public sealed class Declared
    {
        public required Option<string?> Model { get; init; }
        public required Option<string?> Input { get; init; }
        public required Option<string?> Truth { get; init; }
        public required Option<int> N { get; init; }
        public required Option<int> ValidationN { get; init; }
        public required Option<int> Samples { get; init; }
        public required Option<string> Output { get; init; }
        public Option<int> Steps { get; } = new("--steps") { Description = "Solver steps", DefaultValueFactory = _ => 20 };
        public Option<string> Sampler { get; } = new("--sampler") { Description = "Solver (see dk samplers)", DefaultValueFactory = _ => "dpmpp_2m" };
        public Option<ulong> Seed { get; } = new("--seed") { Description = "Noise seed", DefaultValueFactory = _ => 0 };
        public Option<int> Batch { get; } = new("--batch-size") { Description = "Samples per network call", DefaultValueFactory = _ => 16 };
        public Option<bool> Force { get; } = new("--force") { Description = "Replace an existing output folder" };
        public Option<bool> AllowNonFinite { get; } = CommonOptions.AllowNonFinite();
        public Option<string> Device { get; } = CommonOptions.Device();
        public Option<string> Precision { get; } = CommonOptions.Precision();

        /// <summary>Adds the options to <paramref name="command"/>, <paramref name="extra"/> after --validation-n.</summary>
        public Command AddTo(Command command, params Option[] extra)
        {
            Option[] all = [Model, Input, Truth, N, ValidationN, .. extra, Samples, Steps, Sampler, Seed, Batch, Output, Force, AllowNonFinite, Device, Precision];
            foreach (var option in all) command.Add(option);
            return command;
        }

        /// <summary>The shared values of a parse.</summary>
        public Common Read(ParseResult r) => new(r.GetValue(Model), r.GetValue(N), r.GetValue(ValidationN), r.GetValue(Samples), r.GetValue(Steps), r.GetValue(Sampler)!,
            r.GetValue(Seed), r.GetValue(Batch), r.GetValue(Output)!, r.GetValue(Force), r.GetValue(Device)!, r.GetValue(AllowNonFinite), r.GetValue(Precision)!);
    }

    /// <summary>An option with a default value.</summary>
    public static Option<T> WithDefault<T>(string name, string description, T value) => new(name) { Description = description, DefaultValueFactory = _ => value };

    /// <summary>Checks the shared options; nothing runs before this passes.</summary>
    public static void Check(Common q)
    {
        MedicalInputs.InRange("--n", q.N, 1, 10_000);
        MedicalInputs.InRange("--validation-n", q.ValidationN, 1, 10_000);
        MedicalInputs.InRange("--num-samples", q.Samples, 1, 1000);
        MedicalInputs.InRange("--steps", q.Steps, 1, 100_000);
        MedicalInputs.InRange("--batch-size", q.Batch, 1, 4096);
    }

    /// <summary>The model folder: the one given, or the bundled one at <paramref name="bundled"/>.</summary>
    public static string ModelPath(string? given, string bundled)
    {
        if (given is not null) return given;
        try
        {
            return DiffusionKernels.BundledModel.Find(bundled);
        }
        catch (DirectoryNotFoundException e)
        {
            throw new DirectoryNotFoundException($"{e.Message} (pass --model DIR: an image-conditioned UNet2DModel folder)", e);
        }
    }

    /// <summary>Opens an image-conditioned model with one condition channel and one output channel of square images, or says why not (naming --model).</summary>
    public static DiffusionModel Open(string path, Backend backend, int batch)
    {
        var model = DiffusionModel.Open(path, backend, batch, image: new ImageConditioning());
        if (model.ConditionShape is not [1, var h, var w] || model.SampleShape is not [1, _, _] || h != w)
        {
            string found = $"condition {Shape.Format(model.ConditionShape!)}, sample {Shape.Format(model.SampleShape)}";
            model.Dispose();
            throw new ArgumentException($"--model {path}: needs one condition channel and one output channel of square images (in_channels 2, out_channels 1), found {found}");
        }
        return model;
    }

    /// <summary>The ensemble settings of the options.</summary>
    public static EnsembleOptions Ensemble(Common q, CancellationToken cancel) =>
        new() { Samples = q.Samples, Steps = q.Steps, Solver = SamplerRegistry.Get(q.Sampler), Seed = q.Seed, Cancellation = cancel };

    /// <summary>Where the held-out and validation phantoms start, for the printout.</summary>
    public static string Indices => $"test phantoms from index {MedicalEvaluation.TestFirstIndex}, validation phantoms from {MedicalEvaluation.ValidationFirstIndex}";
}
