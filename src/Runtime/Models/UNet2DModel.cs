using DiffusionKernels.Kernels;
using DiffusionKernels.Runtime.Models.Layers;
using DiffusionKernels.Runtime.Plan;

namespace DiffusionKernels.Runtime.Models;

/// <summary>
/// A diffusers <c>UNet2DModel</c> with its weights uploaded to one backend. <see cref="Compile(int, int, int)"/> turns it
/// into a replayable plan for one (batch, height, width).
/// </summary>
/// <remarks>
/// Thread safety: after construction the model is read-only, so plans may be compiled from it and run on several threads
/// at once where the backend allows concurrent calls (<see cref="Runtime.Backend.SupportsConcurrentCalls"/>); each
/// <see cref="UNetPlan"/> itself serves one caller at a time. Disposal must not race with use; afterwards every call is an
/// <see cref="ObjectDisposedException"/>.
/// </remarks>
public sealed class UNet2DModel : IDisposable
{
    private readonly ModelWeights _weights;
    private readonly Conv2dLayer _convIn, _convOut;
    private readonly LinearLayer _timeLinear1, _timeLinear2;
    private readonly Tensor? _classTable;
    private readonly LinearLayer? _classLinear1, _classLinear2;
    private readonly float[]? _timeProjHost;
    private readonly List<IDownBlock> _down = [];
    private readonly MidBlock? _mid;
    private readonly List<IUpBlock> _up = [];
    private readonly GroupNormLayer _normOut;
    private readonly FusedTimeProjection? _fusedTimeProjection;

    /// <summary>Builds the layers from <paramref name="source"/>; every weight must be present with its shape and none may be left over.</summary>
    public UNet2DModel(UNetConfig config, IWeightSource source, Backend backend)
        : this(config, new ModelWeights(source, backend, ignored: source.Names.Contains("time_proj.W") ? ["time_proj.W"] : null))
    {
    }

    /// <summary>The given topology with random weights (for benchmarks).</summary>
    public static UNet2DModel CreateRandom(UNetConfig config, Backend backend, int seed = 0) => new(config, ModelWeights.Random(backend, seed));

    private UNet2DModel(UNetConfig config, ModelWeights weights)
    {
        Config = config;
        var c = config;
        _weights = weights;
        var w = _weights;
        try
        {
            int c0 = c.BlockOutChannels[0], temb = c.TimeEmbedDim;
            TimeFeatures = c.TimeEmbeddingType == "fourier" ? 2 * c0 : c0;
            if (c.TimeEmbeddingType == "fourier") _timeProjHost = HostWeight(w, "time_proj.weight", c0);
            if (c.TimeEmbeddingType == "learned") _timeProjHost = HostWeight(w, "time_proj.weight", c.NumTrainTimesteps!.Value, c0);
            _timeLinear1 = new LinearLayer(w, "time_embedding.linear_1", TimeFeatures, temb);
            _timeLinear2 = new LinearLayer(w, "time_embedding.linear_2", temb, temb);
            if (c.ClassEmbedType == "timestep")
            {
                _classLinear1 = new LinearLayer(w, "class_embedding.linear_1", TimeFeatures, temb);
                _classLinear2 = new LinearLayer(w, "class_embedding.linear_2", temb, temb);
            }
            else if (c.NumClassEmbeds is { } classes) _classTable = w.Take("class_embedding.weight", classes, temb);

            _convIn = new Conv2dLayer(w, "conv_in", c.InChannels, c0, 3, padding: 1);
            int outCh = c0;
            for (int i = 0; i < c.DownBlockTypes.Length; i++)
            {
                int cin = outCh;
                outCh = c.BlockOutChannels[i];
                _down.Add(UNetBlocks.CreateDown(w, i, c, cin, outCh));
            }
            if (c.MidBlockType is not null) _mid = new MidBlock(w, c);
            var rc = c.BlockOutChannels.Reverse().ToArray();
            outCh = rc[0];
            for (int i = 0; i < c.UpBlockTypes.Length; i++)
            {
                int prev = outCh;
                outCh = rc[i];
                int cin = rc[Math.Min(i + 1, rc.Length - 1)];
                _up.Add(UNetBlocks.CreateUp(w, i, c, prev, outCh, cin));
            }
            _normOut = new GroupNormLayer(w, "conv_norm_out", c0, c.NormNumGroups ?? Math.Min(c0 / 4, 32), c.NormEps);
            _convOut = new Conv2dLayer(w, "conv_out", c0, c.OutChannels, 3, padding: 1);
            w.EnsureAllUsed();
            // "scale_shift" resnets keep their own projections (FusedTimeProjection says why).
            var resnets = _down.SelectMany(d => d.Resnets).Concat(_mid?.Resnets ?? []).Concat(_up.SelectMany(u => u.Resnets)).ToList();
            if (c.ResnetTimeScaleShift != "scale_shift")
                _fusedTimeProjection = FusedTimeProjection.Create(w.Backend, [.. resnets.Select(r => r.TimeProjection)]);
        }
        catch
        {
            _fusedTimeProjection?.Dispose();
            _weights.Dispose();
            throw;
        }
    }

    /// <summary>Loads <c>config.json</c> and <c>diffusion_pytorch_model.safetensors</c> from a diffusers model folder.</summary>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="FileNotFoundException">The folder has no config.json or no safetensors weights.</exception>
    /// <exception cref="IOException">A file is not a regular file (a FIFO, a device) or cannot be read.</exception>
    /// <exception cref="ModelFormatException">
    /// A file is malformed, the config holds an unsupported or out-of-range value, or a weight is missing, extra, of
    /// the wrong shape or not finite; the message names the file, and the key or tensor.
    /// </exception>
    /// <exception cref="InsufficientMemoryException">The weights cannot fit in the backend's memory.</exception>
    public static UNet2DModel Load(string directory, Backend backend)
    {
        if (!Directory.Exists(directory)) throw new DirectoryNotFoundException($"model folder not found: {directory}");
        var config = UNetConfig.Load(Path.Combine(directory, "config.json"));
        using var source = ModelFiles.OpenWeights(directory);
        return new UNet2DModel(config, source, backend);
    }

    /// <summary>The configuration the model was built from.</summary>
    public UNetConfig Config { get; }
    /// <summary>The backend holding the weights; plans compiled from this model run on it.</summary>
    public Backend Backend => _weights.Backend;
    /// <summary>Number of parameters (weights uploaded).</summary>
    public long ParameterCount => _weights.ParameterCount;
    /// <summary>Width of the time features fed to time_embedding.linear_1.</summary>
    public int TimeFeatures { get; }

    /// <summary>
    /// The weights a checkpoint of <paramref name="config"/> holds, in the order the layers take them, with their shapes
    /// (for writing or converting checkpoints). Builds the model once with random weights on the CPU.
    /// </summary>
    public static IReadOnlyList<(string Name, int[] Shape)> WeightShapes(UNetConfig config)
    {
        using var cpu = new CpuBackend();
        var weights = ModelWeights.Random(cpu, 0);
        using var model = new UNet2DModel(config, weights);
        return [.. weights.Taken];
    }

    /// <summary>Compiles the forward pass for inputs of [batch, in_channels, height, width].</summary>
    /// <exception cref="ShapeMismatchException">The size is not a positive multiple of <see cref="UNetConfig.SpatialMultiple"/>.</exception>
    /// <exception cref="InsufficientMemoryException">The pass cannot fit in the backend's memory (checked before allocating).</exception>
    public UNetPlan Compile(int batch, int height, int width) => Compile(batch, height, width, UNetFusions.All);

    /// <summary>
    /// <see cref="Compile(int, int, int)"/>, choosing whether the resnets' time projections run as one stacked GEMM
    /// (the default) or one Linear per block (kept to compare against: both give the same result); the other fusions stay on.
    /// </summary>
    internal UNetPlan Compile(int batch, int height, int width, bool fuseTimeProjections) =>
        Compile(batch, height, width, UNetFusions.All with { TimeProjections = fuseTimeProjections });

    /// <summary><see cref="Compile(int, int, int)"/> with the chosen <paramref name="fusions"/> (kept to compare each against its unfused steps).</summary>
    internal UNetPlan Compile(int batch, int height, int width, UNetFusions fusions)
    {
        if (_disposed) throw new ObjectDisposedException(nameof(UNet2DModel), "unet: the model has been disposed");
        var c = Config;
        if (batch < 1) throw new ArgumentOutOfRangeException(nameof(batch), $"batch must be ≥ 1, found {batch}");
        if (height % c.SpatialMultiple != 0 || width % c.SpatialMultiple != 0 || height < 1 || width < 1)
            throw new ShapeMismatchException($"unet: input size {height}×{width} must be a positive multiple of {c.SpatialMultiple} (2^(levels−1) for {c.BlockOutChannels.Length} levels)");
        var b = Backend;
        EnsureActivationsFit(batch, height, width);
        var pb = new PlanBuilder(b);
        var io = new UNetPlanInputs(b, c, batch, height, width, TimeFeatures);
        try
        {
            var x = pb.External("sample", io.Sample);
            if (c.CenterInputSample)
            {
                var ones = pb.External("ones", io.Ones!);
                var centered = pb.Value("center_input_sample", x.Shape.ToArray());
                pb.Step("center_input_sample", [x, ones, centered], t => b.Axpby(2f, t[0], -1f, t[1], t[2]));
                x = centered;
            }
            var emb = EmitTimeEmbedding(pb, io, batch);
            var tembAct = pb.Value("temb_act", batch, c.TimeEmbedDim);
            pb.Step("temb_act", [emb, tembAct], t => b.Activate(t[0], t[1], c.Activation));

            var temb = new TimeProjections(tembAct, fusions.TimeProjections ? _fusedTimeProjection : null, fusions.TimeBiasInConv);
            var pass = new BlockPass(pb, x, temb, fusions);
            var h = _convIn.Emit(pb, "conv_in", x);
            pass.Residuals.Add(h);
            for (int i = 0; i < _down.Count; i++) h = _down[i].Emit(pass, $"down_blocks.{i}", h);
            if (_mid is not null) h = _mid.Emit(pb, h, temb, fusions);
            for (int i = 0; i < _up.Count; i++) h = _up[i].Emit(pass, $"up_blocks.{i}", h);
            h = _normOut.Emit(pb, "conv_norm_out", h, Activation.SiLU);
            // diffusers: "if skip_sample is not None: sample += skip_sample" (the skip up blocks' output skip).
            var skipSample = pass.Find<ScoreSdeSkipPath>()?.Output;
            if (skipSample is not null && skipSample.Shape != new Shape(batch, c.OutChannels, height, width))
                throw new ModelFormatException($"unet: the skip blocks' output skip {skipSample.Shape} does not match the output [{batch}, {c.OutChannels}, {height}, {width}]; the last up blocks must be skip blocks (diffusers fails the same way)");
            if (c.TimeEmbeddingType == "fourier")
            {
                // diffusers adds skip_sample to conv_out's result, then divides by the timesteps (σ).
                var raw = _convOut.Emit(pb, "conv_out", h, skipSample);
                var output = pb.External("output", io.Output);
                var inverseSigma = pb.External("inverse_sigma", io.InverseTimestepsOnDevice!);
                pb.Step("divide_by_sigma", [raw, inverseSigma, output], t => b.LinearCombinationOnDevice(t[2], [t[0]], t[1]));
            }
            else
            {
                var raw = _convOut.Emit(pb, "conv_out", h, skipSample);
                var output = pb.External("output", io.Output);
                pb.Step("output", [raw, output], t => b.Copy(t[0], t[1]));
            }
            return new UNetPlan(this, pb.Compile(), io);
        }
        catch
        {
            io.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Refuses, before anything is allocated, a size whose activations cannot fit: a lower bound of the peak is the
    /// inputs and outputs plus the level-0 skips (conv_in and each level-0 layer's output) that stay alive until the up
    /// path reads them.
    /// </summary>
    private void EnsureActivationsFit(int batch, int height, int width)
    {
        var c = Config;
        string what = $"the forward pass at batch {batch}, {height}×{width}";
        long pixels = MemoryBudget.Elements(what, batch, height, width);
        long channels = (long)c.InChannels + c.OutChannels + (long)c.BlockOutChannels[0] * (c.LayersPerBlock + 2);
        Backend.EnsureCanAllocate(MemoryBudget.Elements(what, pixels, channels, sizeof(float)), what);
    }

    private PlanValue EmitTimeEmbedding(PlanBuilder pb, UNetPlanInputs io, int batch)
    {
        var c = Config;
        var b = Backend;
        PlanValue features;
        if (c.TimeEmbeddingType == "positional")
        {
            var t = pb.External("timesteps", io.Timesteps);
            features = pb.Value("time_proj", batch, TimeFeatures);
            pb.Step("time_proj", [t, features], v => b.TimestepEmbedding(v[0], v[1], c.FlipSinToCos, c.FreqShift));
        }
        else features = pb.External("time_proj", io.HostTimeFeatures!);
        var hidden = _timeLinear1.Emit(pb, "time_embedding.linear_1", features, Activation.SiLU);
        var emb = _timeLinear2.Emit(pb, "time_embedding.linear_2", hidden);
        if (_classTable is not null)
        {
            var labels = pb.External("class_labels", io.ClassLabels!);
            var classEmb = pb.Value("class_embedding", batch, c.TimeEmbedDim);
            pb.Step("class_embedding", [labels, classEmb], v => b.EmbeddingLookup(_classTable, v[0], v[1]));
            emb = Sum(pb, emb, classEmb);
        }
        else if (c.ClassEmbedType == "identity")
        {
            // nn.Identity: the caller's float embeddings [B, T] are added as they are.
            var classEmb = pb.External("class_embeddings", io.ClassEmbeddings!);
            emb = Sum(pb, emb, classEmb);
        }
        else if (_classLinear1 is not null)
        {
            var labels = pb.External("class_labels", io.ClassLabelsFloat!);
            var proj = pb.Value("class_proj", batch, TimeFeatures);
            pb.Step("class_proj", [labels, proj], v => b.TimestepEmbedding(v[0], v[1], c.FlipSinToCos, c.FreqShift));
            var classEmb = _classLinear2!.Emit(pb, "class_embedding.linear_2", _classLinear1.Emit(pb, "class_embedding.linear_1", proj, Activation.SiLU));
            emb = Sum(pb, emb, classEmb);
        }
        return emb;
    }

    private static PlanValue Sum(PlanBuilder pb, PlanValue a, PlanValue c)
    {
        var b = pb.Backend;
        var y = pb.Value("emb_plus_class", a.Shape.ToArray());
        pb.Step("emb_plus_class", [a, c, y], t => b.Add(t[0], t[1], t[2]));
        return y;
    }

    /// <summary>Host-side time features for fourier and learned embeddings (the timesteps come from the host anyway).</summary>
    internal void FillHostTimeFeatures(ReadOnlySpan<float> timesteps, Span<float> features)
    {
        int c0 = Config.BlockOutChannels[0];
        for (int n = 0; n < timesteps.Length; n++)
        {
            var row = features.Slice(n * TimeFeatures, TimeFeatures);
            if (Config.TimeEmbeddingType == "fourier")
            {
                // GaussianFourierProjection(log=True, flip_sin_to_cos=False): [sin, cos](log(t)·W·2·π), float32 as PyTorch.
                float x = MathF.Log(timesteps[n]);
                for (int i = 0; i < c0; i++)
                {
                    float proj = x * _timeProjHost![i] * 2f * MathF.PI;
                    row[i] = MathF.Sin(proj);
                    row[c0 + i] = MathF.Cos(proj);
                }
            }
            else
            {
                int steps = Config.NumTrainTimesteps!.Value;
                long index = (long)timesteps[n];
                if (index < 0 || index >= steps) throw new ArgumentOutOfRangeException(nameof(timesteps), $"unet: timestep {timesteps[n]} is outside the learned embedding's 0..{steps - 1}");
                _timeProjHost.AsSpan((int)index * c0, c0).CopyTo(row);
            }
        }
    }

    private static float[] HostWeight(ModelWeights w, string name, params int[] shape)
    {
        // Taken through the checked path, then kept on the host: these features are computed per step on the host.
        using var t = w.Take(name, shape);
        return t.ToArray();
    }

    private bool _disposed;

    /// <summary>True once disposed.</summary>
    public bool IsDisposed => _disposed;

    /// <summary>Frees the weights; plans compiled from the model stop working (<see cref="ObjectDisposedException"/>).</summary>
    public void Dispose()
    {
        _disposed = true;
        _fusedTimeProjection?.Dispose();
        _weights.Dispose();
    }
}
