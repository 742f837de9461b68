using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.Models;
using DiffusionKernels.Samplers.Conditioning;
using DiffusionKernels.Samplers.Diffusers;
using DiffusionKernels.Samplers.Schedules;

namespace DiffusionKernels.Samplers.Denoisers;

/// <summary>How a network's output is to be read (diffusers' <c>prediction_type</c>).</summary>
public enum Prediction
{
    /// <summary>The added noise ε (<c>epsilon</c>).</summary>
    Epsilon,
    /// <summary>v = α_t ε − σ_t x₀ (<c>v_prediction</c>).</summary>
    VPrediction,
    /// <summary>The clean sample x₀ (<c>sample</c>).</summary>
    Sample,
}

/// <summary>
/// A diffusers U-Net trained on a discrete VP schedule, seen as a σ-space denoiser (k-diffusion's DiscreteEpsDDPMDenoiser):
/// the network gets x·c_in with c_in = 1/√(σ² + 1) (= α_t) at t = σ→t, and its output converts to x̂₀ per prediction type:
/// ε: x − σε̂; v: c_skip·x − c_out·v̂ with x̂₀ = α(x_t) − σ_t v̂ in VP terms; sample: the output itself.
/// As an <see cref="IDiffusersModel"/> it is the bare network call a diffusers scheduler makes.
/// A network with more input than output channels is image-conditioned (SR3/Palette style): its input is
/// [c_in·x, condition] along the channels, the condition unscaled; it then denoises only through
/// <see cref="IConditionalDenoiser"/> (wrap it in a <see cref="ConditionedDenoiser"/>).
/// </summary>
/// <remarks>Thread safety: one caller at a time (see <see cref="IDenoiser"/>).</remarks>
public sealed class UNetDenoiser : IDenoiser, IConditionalDenoiser, IDiffusersModel, IDisposable
{
    private readonly UNetPlan _plan;
    private readonly float[] _t;
    private Tensor? _scaled;

    /// <summary>
    /// The denoiser of a compiled U-Net. <paramref name="sampleShape"/> is one sample [C_out, H, W]; the plan's input may
    /// hold more channels than the sample, the rest being the condition.
    /// </summary>
    public UNetDenoiser(UNetPlan plan, DiscreteSchedule schedule, Prediction prediction, int[] sampleShape, long[]? classLabels = null)
    {
        var input = plan.Sample.Shape;
        if (sampleShape.Length != input.Rank - 1 || sampleShape[0] > input[1] || !sampleShape.AsSpan(1).SequenceEqual(input.ToArray().AsSpan(2)))
            throw new ShapeMismatchException($"U-Net denoiser: a sample {Shape.Format(sampleShape)} does not fit the network input {input}");
        _plan = plan;
        ConditionShape = [input[1] - sampleShape[0], .. sampleShape[1..]];
        Schedule = schedule;
        Prediction = prediction;
        SampleShape = sampleShape;
        _t = new float[plan.Batch];
        if (plan.NeedsClassLabels) plan.SetClassLabels(classLabels ?? throw new ArgumentException("the model is class-conditional: give class labels"));
        else if (classLabels is { Length: > 0 }) throw new ArgumentException("class labels were given, but the model is not class-conditional");
    }

    /// <summary>Whether the network takes class labels.</summary>
    public bool IsClassConditional => _plan.NeedsClassLabels;

    /// <summary>Sets the class labels (one per batch element) the next evaluations use.</summary>
    public void SetClassLabels(ReadOnlySpan<long> labels) => _plan.SetClassLabels(labels);

    /// <inheritdoc/>
    public Backend Backend => _plan.Output.Backend;
    /// <inheritdoc/>
    public int[] SampleShape { get; }
    /// <summary>The training schedule: σ for each timestep.</summary>
    public DiscreteSchedule Schedule { get; }
    /// <summary>What the network predicts.</summary>
    public Prediction Prediction { get; }
    /// <inheritdoc/>
    public double SigmaMin => Schedule.SigmaMin;
    /// <inheritdoc/>
    public double SigmaMax => Schedule.SigmaMax;
    /// <inheritdoc/>
    public int Evaluations { get; private set; }

    /// <summary>Channels of the condition the network takes beside the sample (0: an unconditional network).</summary>
    public int ConditionChannels => ConditionShape[0];

    /// <summary>Shape of one condition [C_in − C_out, H, W] (zero channels for an unconditional network).</summary>
    public int[] ConditionShape { get; }

    /// <inheritdoc/>
    public void Denoise(Tensor x, double sigma, Tensor denoised)
    {
        if (ConditionChannels > 0)
            throw new InvalidOperationException($"the network takes {ConditionChannels} condition channels beside the sample: denoise through a {nameof(ConditionedDenoiser)}");
        double cIn = 1 / Math.Sqrt(sigma * sigma + 1);
        Backend.Scale(x, (float)cIn, _plan.Sample);
        Run(x, sigma, cIn, denoised);
    }

    /// <summary>x̂₀ given <paramref name="condition"/> [B, C_cond, H, W]: the network sees [c_in·x, condition].</summary>
    public void Denoise(Tensor x, Tensor condition, double sigma, Tensor denoised)
    {
        if (ConditionChannels == 0) throw new InvalidOperationException("the network takes no condition channels");
        double cIn = 1 / Math.Sqrt(sigma * sigma + 1);
        if (_scaled is null || !_scaled.Shape.Equals(x.Shape))
        {
            _scaled?.Dispose();
            _scaled = Backend.Allocate(x.Shape);
        }
        Backend.Scale(x, (float)cIn, _scaled);
        Backend.ConcatChannels(_scaled, condition, _plan.Sample);
        Run(x, sigma, cIn, denoised);
    }

    private void Run(Tensor x, double sigma, double cIn, Tensor denoised)
    {
        Array.Fill(_t, (float)Schedule.SigmaToT(sigma));
        _plan.SetTimesteps(_t);
        _plan.Run();
        var output = _plan.Output;
        switch (Prediction)
        {
            case Prediction.Epsilon:
                Backend.LinearCombination(denoised, [x, output], [1f, (float)-sigma]);
                break;
            case Prediction.VPrediction:
                // x̂₀ = α·x_t − σ_t·v̂ with x_t = α·x, α = c_in, σ_t = σ·α.
                Backend.LinearCombination(denoised, [x, output], [(float)(cIn * cIn), (float)(-sigma * cIn)]);
                break;
            default:
                Backend.Copy(output, denoised);
                break;
        }
        Evaluations++;
    }

    /// <summary>The network's raw output for <paramref name="input"/> at <paramref name="timestep"/> (diffusers' unet(x, t)).</summary>
    public void Predict(Tensor input, float timestep, Tensor output)
    {
        Backend.Copy(input, _plan.Sample);
        Array.Fill(_t, timestep);
        _plan.SetTimesteps(_t);
        _plan.Run();
        Backend.Copy(_plan.Output, output);
        Evaluations++;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _scaled?.Dispose();
        _plan.Dispose();
    }
}
