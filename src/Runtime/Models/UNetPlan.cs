using DiffusionKernels.Runtime.Plan;

namespace DiffusionKernels.Runtime.Models;

/// <summary>
/// A U-Net forward pass compiled for one (batch, height, width): write the sample into <see cref="Sample"/>
/// (or pass it to <see cref="Forward"/>), set timesteps and labels, run; the result is in <see cref="Output"/>.
/// Re-running allocates nothing.
/// </summary>
/// <remarks>
/// Thread safety: a plan holds its inputs, outputs and activations, so it serves one caller at a time; compile one
/// plan per thread (from the same model) to run concurrently. After <see cref="Dispose"/>, or once its model is
/// disposed, every call is an <see cref="ObjectDisposedException"/>.
/// </remarks>
public sealed class UNetPlan : IDisposable
{
    private readonly UNet2DModel _model;
    private readonly ExecutionPlan _plan;
    private readonly UNetPlanInputs _io;
    private readonly float[] _timesteps;
    private readonly float[]? _hostFeatures;
    private readonly long[]? _labels;
    private readonly float[]? _labelsFloat;

    internal UNetPlan(UNet2DModel model, ExecutionPlan plan, UNetPlanInputs io)
    {
        _model = model;
        _plan = plan;
        _io = io;
        _timesteps = new float[io.Batch];
        if (io.HostTimeFeatures is not null) _hostFeatures = new float[io.HostTimeFeatures.Length];
        if (io.ClassLabels is not null) _labels = new long[io.Batch];
        if (io.ClassLabelsFloat is not null) _labelsFloat = new float[io.Batch];
    }

    /// <summary>The batch size the plan was compiled for.</summary>
    public int Batch => _io.Batch;
    /// <summary>The input sample [B, in_channels, H, W].</summary>
    public Tensor Sample => _io.Sample;
    /// <summary>The network output [B, out_channels, H, W].</summary>
    public Tensor Output => _io.Output;
    /// <summary>Peak activation memory in bytes (the arena, excluding inputs, outputs and weights).</summary>
    public long ActivationBytes => _plan.ArenaBytes;
    /// <summary>Multiply–add FLOPs (×2) of one forward pass, convolutions, linears and attention.</summary>
    public double Flops => _plan.Flops;
    /// <summary>Backend op calls (plan steps) per forward pass; an op may queue more than one kernel.</summary>
    public int LaunchCount => _plan.StepCount;
    /// <summary>True when the model needs class labels (num_class_embeds or class_embed_type "timestep").</summary>
    public bool NeedsClassLabels => _labels is not null || _labelsFloat is not null;
    /// <summary>True when the model needs float class embeddings [B, T] (class_embed_type "identity"); see <see cref="SetClassEmbeddings"/>.</summary>
    public bool NeedsClassEmbeddings => _io.ClassEmbeddings is not null;

    /// <summary>Sets the timesteps: one value for the whole batch, or one per sample.</summary>
    public void SetTimesteps(ReadOnlySpan<float> timesteps)
    {
        ThrowIfDisposed();
        if (timesteps.Length != 1 && timesteps.Length != Batch)
            throw ShapeMismatchException.For("unet", "timesteps", $"[{Batch}] or [1]", $"[{timesteps.Length}]");
        for (int i = 0; i < Batch; i++) _timesteps[i] = timesteps.Length == 1 ? timesteps[0] : timesteps[i];
        for (int i = 0; i < Batch; i++) _io.InverseTimesteps[i] = 1f / _timesteps[i];
        _model.Backend.CopyFromHost(_timesteps, _io.Timesteps);
        if (_io.InverseTimestepsOnDevice is { } inverse) _model.Backend.CopyFromHost(_io.InverseTimesteps, inverse);
        if (_hostFeatures is not null)
        {
            _model.FillHostTimeFeatures(_timesteps, _hostFeatures);
            _model.Backend.CopyFromHost(_hostFeatures, _io.HostTimeFeatures!);
        }
    }

    /// <summary>Sets the class labels of a class-conditional model: one per sample, or one for all.</summary>
    public void SetClassLabels(ReadOnlySpan<long> labels)
    {
        ThrowIfDisposed();
        if (!NeedsClassLabels)
        {
            if (labels.Length == 0) return;
            if (NeedsClassEmbeddings)
                throw new ArgumentException("unet: class_embed_type 'identity' takes float class embeddings [B, time_embed_dim], not integer labels (SetClassEmbeddings)");
            throw new ArgumentException("unet: class labels were given, but the model is not class-conditional (no class_embedding)");
        }
        if (labels.Length != 1 && labels.Length != Batch)
            throw ShapeMismatchException.For("unet", "class labels", $"[{Batch}] or [1]", $"[{labels.Length}]");
        int classes = _model.Config.NumClassEmbeds ?? int.MaxValue;
        for (int i = 0; i < Batch; i++)
        {
            long l = labels.Length == 1 ? labels[0] : labels[i];
            if (_labels is not null && (l < 0 || l >= classes))
                throw new ArgumentOutOfRangeException(nameof(labels), $"unet: class label {l} is outside 0..{classes - 1}");
            if (_labels is not null) _labels[i] = l;
            if (_labelsFloat is not null) _labelsFloat[i] = l;
        }
        if (_labels is not null) _model.Backend.CopyFromHost(_labels, _io.ClassLabels!);
        if (_labelsFloat is not null) _model.Backend.CopyFromHost(_labelsFloat, _io.ClassLabelsFloat!);
        _labelsSet = true;
    }

    private bool _labelsSet;

    /// <summary>
    /// Sets the class embeddings of a class_embed_type "identity" model (diffusers adds them to the time
    /// embedding as they are): B·T values [B, T] row-major, or T values shared by the whole batch.
    /// </summary>
    public void SetClassEmbeddings(ReadOnlySpan<float> embeddings)
    {
        ThrowIfDisposed();
        var target = _io.ClassEmbeddings ?? throw new ArgumentException("unet: class embeddings were given, but the model's class_embed_type is not 'identity'");
        int dim = target.Shape[1];
        if (embeddings.Length != dim && embeddings.Length != Batch * dim)
            throw ShapeMismatchException.For("unet", "class embeddings", $"[{Batch}, {dim}] or [{dim}]", $"[{embeddings.Length}] values");
        if (embeddings.Length == Batch * dim) _model.Backend.CopyFromHost(embeddings, target);
        else
        {
            var rows = new float[Batch * dim];
            for (int i = 0; i < Batch; i++) embeddings.CopyTo(rows.AsSpan(i * dim, dim));
            _model.Backend.CopyFromHost(rows, target);
        }
        _embeddingsSet = true;
    }

    private bool _embeddingsSet;

    /// <summary>Queues the forward pass over the current sample, timesteps and labels.</summary>
    public void Run()
    {
        ThrowIfDisposed();
        if (NeedsClassLabels && !_labelsSet)
            throw new InvalidOperationException("unet: the model is class-conditional; set class labels (SetClassLabels) before running");
        if (NeedsClassEmbeddings && !_embeddingsSet)
            throw new InvalidOperationException("unet: the model has class_embed_type 'identity'; set float class embeddings [B, time_embed_dim] before running (SetClassEmbeddings)");
        if (_model.Backend.UsesCudaGraph(Batch)) _plan.RunReplayed();
        else _plan.Run();
    }

    /// <summary>
    /// Why the forward runs eagerly although <see cref="Backend.CudaGraphs"/> asks for a graph (the capture failed, or the
    /// forward waited for the device or uploaded host data while being captured), or null when it replays a graph or
    /// none was asked for.
    /// </summary>
    public string? CudaGraphFallback => _plan.Graph?.FallbackReason;

    /// <summary>The plan's graph replay, once a run has made one (for tests and benchmarks).</summary>
    internal PlanGraph? Graph => _plan.Graph;

    /// <summary>One synchronized run with per-step wall times (see <see cref="ExecutionPlan.RunProfiled"/>).</summary>
    public IReadOnlyList<(string Step, double Ms, double Flops)> RunProfiled()
    {
        ThrowIfDisposed();
        return _plan.RunProfiled();
    }

    /// <summary>Host microseconds to queue each step, the median of <paramref name="runs"/> runs (see <see cref="ExecutionPlan.HostQueueTimes"/>).</summary>
    internal IReadOnlyList<(string Step, double HostUs)> HostQueueTimes(int runs)
    {
        ThrowIfDisposed();
        return _plan.HostQueueTimes(runs);
    }

    /// <summary>
    /// Kernel launches of each step of one forward pass (see <see cref="ExecutionPlan.LaunchesPerStep"/>); on a backend
    /// that counts its launches this runs the pass once, over whatever the inputs hold.
    /// </summary>
    internal IReadOnlyList<(string Step, int Launches)> LaunchesPerStep()
    {
        ThrowIfDisposed();
        return _plan.LaunchesPerStep();
    }

    /// <summary>Copies <paramref name="sample"/> in, runs, and returns <see cref="Output"/> (owned by the plan).</summary>
    public Tensor Forward(Tensor sample, ReadOnlySpan<float> timesteps, ReadOnlySpan<long> classLabels = default)
    {
        ThrowIfDisposed();
        if (sample.Shape != Sample.Shape) throw ShapeMismatchException.For("unet", "sample", Sample.Shape, sample.Shape);
        _model.Backend.Copy(sample, Sample);
        SetTimesteps(timesteps);
        if (!classLabels.IsEmpty || NeedsClassLabels) SetClassLabels(classLabels);
        Run();
        return Output;
    }

    private bool _disposed;

    private void ThrowIfDisposed()
    {
        if (_disposed) throw new ObjectDisposedException(nameof(UNetPlan), $"unet: the plan for batch {Batch} has been disposed");
        if (_model.IsDisposed) throw new ObjectDisposedException(nameof(UNet2DModel), "unet: the model this plan was compiled from has been disposed");
    }

    /// <summary>Frees the plan's inputs, outputs and activations; later calls are <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        _plan.Dispose();
        _io.Dispose();
    }
}
