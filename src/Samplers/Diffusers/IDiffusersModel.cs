using DiffusionKernels.Runtime;

namespace DiffusionKernels.Samplers.Diffusers;

/// <summary>
/// The network as a diffusers pipeline calls it: <c>output = unet(scale_model_input(x, t), t)</c>, the raw prediction
/// (ε, v or x₀ per the scheduler's prediction_type) for a batch at one timestep, in the scheduler's own coordinates.
/// The timestep is what the U-Net receives (float32; integer for DDIM-style schedulers, fractional for the Euler family).
/// </summary>
public interface IDiffusersModel
{
    /// <summary>The backend the network's tensors live on.</summary>
    Backend Backend { get; }
    /// <summary>Shape of one sample, e.g. [C, H, W].</summary>
    int[] SampleShape { get; }
    /// <summary>Network evaluations so far (NFE).</summary>
    int Evaluations { get; }

    /// <summary>Writes the network's output for <paramref name="input"/> at <paramref name="timestep"/> (shared by the batch) into <paramref name="output"/>.</summary>
    void Predict(Tensor input, float timestep, Tensor output);
}
