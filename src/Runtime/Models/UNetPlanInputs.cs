namespace DiffusionKernels.Runtime.Models;

/// <summary>The tensors a compiled U-Net reads and writes outside its activation arena.</summary>
internal sealed class UNetPlanInputs : IDisposable
{
    public UNetPlanInputs(Backend b, UNetConfig c, int batch, int height, int width, int timeFeatures)
    {
        Batch = batch;
        Sample = b.Allocate(batch, c.InChannels, height, width);
        Output = b.Allocate(batch, c.OutChannels, height, width);
        Timesteps = b.Allocate(batch);
        if (c.CenterInputSample)
        {
            Ones = b.Allocate(batch, c.InChannels, height, width);
            b.Fill(Ones, 1f);
        }
        if (c.TimeEmbeddingType != "positional") HostTimeFeatures = b.Allocate(batch, timeFeatures);
        if (c.ClassEmbedType == "timestep") ClassLabelsFloat = b.Allocate(batch);
        else if (c.ClassEmbedType == "identity") ClassEmbeddings = b.Allocate(batch, c.TimeEmbedDim);
        else if (c.NumClassEmbeds is not null) ClassLabels = b.Allocate(new Shape(batch), DType.Int64);
        InverseTimesteps = new float[batch];
        if (c.TimeEmbeddingType == "fourier") InverseTimestepsOnDevice = b.Allocate(batch);
    }

    public int Batch { get; }
    public Tensor Sample { get; }
    public Tensor Output { get; }
    public Tensor Timesteps { get; }
    public Tensor? Ones { get; }
    public Tensor? HostTimeFeatures { get; }
    public Tensor? ClassLabels { get; }
    public Tensor? ClassLabelsFloat { get; }
    /// <summary>Float class embeddings [B, T] of class_embed_type "identity".</summary>
    public Tensor? ClassEmbeddings { get; }
    /// <summary>1/t per sample (fourier models divide the output by σ); updated in place each run.</summary>
    public float[] InverseTimesteps { get; }
    /// <summary>
    /// <see cref="InverseTimesteps"/> on the device (fourier models only), uploaded with the timesteps: the forward
    /// reads it there, so it copies nothing from the host itself (a replayed graph of it would re-read a stale copy).
    /// </summary>
    public Tensor? InverseTimestepsOnDevice { get; }

    public void Dispose()
    {
        foreach (var t in new[] { Sample, Output, Timesteps, Ones, HostTimeFeatures, ClassLabels, ClassLabelsFloat, ClassEmbeddings, InverseTimestepsOnDevice }) t?.Dispose();
    }
}
