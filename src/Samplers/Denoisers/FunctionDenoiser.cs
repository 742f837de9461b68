using DiffusionKernels.Runtime;

namespace DiffusionKernels.Samplers.Denoisers;

/// <summary>A denoiser written as a host function: fills <paramref name="denoised"/> with x̂₀ for the batch <paramref name="x"/> at σ.</summary>
/// <param name="x">The batch [batch, ..sample shape], flattened.</param>
/// <param name="sigma">The noise level (shared by the batch).</param>
/// <param name="denoised">Where x̂₀ goes, shaped like <paramref name="x"/>.</param>
public delegate void HostDenoiseFunction(ReadOnlySpan<float> x, double sigma, Span<float> denoised);

/// <summary>A denoiser written on device tensors: writes x̂₀ for the batch <paramref name="x"/> at σ into <paramref name="denoised"/>.</summary>
/// <param name="x">The batch [batch, ..sample shape] on the backend.</param>
/// <param name="sigma">The noise level (shared by the batch).</param>
/// <param name="denoised">Where x̂₀ goes, shaped like <paramref name="x"/>.</param>
public delegate void DeviceDenoiseFunction(Tensor x, double sigma, Tensor denoised);

/// <summary>
/// Any C# function as an <see cref="IDenoiser"/> (k-diffusion's "any denoiser into any solver"): wrap it with
/// <c>DiffusionModel.FromDenoiser</c> or <c>DiffusionPipeline.FromDenoiser</c> to sample from it with every solver, a
/// diffusers scheduler and <c>SampleRunner</c>.
/// </summary>
/// <remarks>
/// <see cref="OnHost"/> copies x to the host and x̂₀ back on each call (simple, and right for small or CPU-bound models);
/// <see cref="OnDevice"/> hands over the backend's tensors. Thread safety: one caller at a time (see <see cref="IDenoiser"/>).
/// </remarks>
public sealed class FunctionDenoiser : IDenoiser
{
    private readonly HostDenoiseFunction? _host;
    private readonly DeviceDenoiseFunction? _device;
    private float[] _x = [], _denoised = [];

    private FunctionDenoiser(Backend backend, int[] sampleShape, double sigmaMin, double sigmaMax, HostDenoiseFunction? host, DeviceDenoiseFunction? device)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(sampleShape);
        if (sampleShape.Length == 0 || sampleShape.Any(d => d < 1))
            throw new ArgumentException($"the sample shape must be non-empty with positive sizes, found {Shape.Format(sampleShape)}", nameof(sampleShape));
        if (!(sigmaMin > 0 && sigmaMax > sigmaMin && double.IsFinite(sigmaMax)))
            throw new ArgumentOutOfRangeException(nameof(sigmaMin), $"the noise levels must satisfy 0 < σ_min < σ_max < ∞, found σ_min {sigmaMin}, σ_max {sigmaMax}");
        Backend = backend;
        SampleShape = (int[])sampleShape.Clone();
        SigmaMin = sigmaMin;
        SigmaMax = sigmaMax;
        _host = host;
        _device = device;
    }

    /// <summary>A denoiser that runs <paramref name="denoise"/> on host copies of x and x̂₀.</summary>
    /// <param name="backend">The backend the samples live on.</param>
    /// <param name="sampleShape">One sample's shape, e.g. [C, H, W].</param>
    /// <param name="sigmaMin">Smallest noise level the function knows (the σ grids end here).</param>
    /// <param name="sigmaMax">Largest noise level the function knows (x_T is drawn at this level).</param>
    /// <param name="denoise">The function.</param>
    public static FunctionDenoiser OnHost(Backend backend, int[] sampleShape, double sigmaMin, double sigmaMax, HostDenoiseFunction denoise) =>
        new(backend, sampleShape, sigmaMin, sigmaMax, denoise ?? throw new ArgumentNullException(nameof(denoise)), null);

    /// <summary>A denoiser that runs <paramref name="denoise"/> on the backend's tensors.</summary>
    /// <inheritdoc cref="OnHost" path="/param"/>
    public static FunctionDenoiser OnDevice(Backend backend, int[] sampleShape, double sigmaMin, double sigmaMax, DeviceDenoiseFunction denoise) =>
        new(backend, sampleShape, sigmaMin, sigmaMax, null, denoise ?? throw new ArgumentNullException(nameof(denoise)));

    /// <inheritdoc/>
    public Backend Backend { get; }
    /// <inheritdoc/>
    public int[] SampleShape { get; }
    /// <inheritdoc/>
    public double SigmaMin { get; }
    /// <inheritdoc/>
    public double SigmaMax { get; }
    /// <inheritdoc/>
    public int Evaluations { get; private set; }

    /// <inheritdoc/>
    public void Denoise(Tensor x, double sigma, Tensor denoised)
    {
        if (_device is not null) _device(x, sigma, denoised);
        else
        {
            if (_x.Length != x.Length)
            {
                _x = new float[x.Length];
                _denoised = new float[x.Length];
            }
            Backend.CopyToHost(x, _x);
            _host!(_x, sigma, _denoised);
            Backend.CopyFromHost(_denoised, denoised);
        }
        Evaluations++;
    }
}
