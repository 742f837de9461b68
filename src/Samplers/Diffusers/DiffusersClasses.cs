using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.IO;
using DiffusionKernels.Samplers.Schedules;

namespace DiffusionKernels.Samplers.Diffusers;

/// <summary>One diffusers scheduler class: the config keys its __init__ takes, its defaults, and how to build it here.</summary>
internal sealed record DiffusersClass(string Name, string[] Keys, SchedulerConfig Defaults, Func<SchedulerConfig, DiffusersScheduler> Create)
{
    /// <summary>
    /// The keys of <paramref name="p"/> this class does not read: keys of another supported class are returned (diffusers
    /// ignores them with a warning); a key no supported class has is an error that lists this class's keys.
    /// </summary>
    public IReadOnlyList<string> CheckKeys(ConfigReader p)
    {
        var ignored = new List<string>();
        foreach (var key in p.Root.EnumerateObject().Select(e => e.Name).Where(k => !k.StartsWith('_')))
        {
            if (Keys.Contains(key)) continue;
            if (!DiffusersClasses.AllKeys.Contains(key))
                throw new ModelFormatException($"{p.Source}: key '{key}' is not a {Name} setting (its keys: {string.Join(", ", Keys)})");
            ignored.Add(key);
        }
        return ignored;
    }
}

/// <summary>The diffusers scheduler classes reproduced here (diffusers v0.40.0), with their keys and defaults.</summary>
internal static class DiffusersClasses
{
    private static readonly string[] Schedule = ["num_train_timesteps", "beta_start", "beta_end", "beta_schedule", "trained_betas"];
    private static readonly string[] Threshold = ["thresholding", "dynamic_thresholding_ratio", "sample_max_value"];
    private static readonly string[] SigmaGrids = ["use_karras_sigmas", "use_exponential_sigmas", "use_beta_sigmas"];
    private static readonly string[] Flow = ["use_flow_sigmas", "flow_shift", "use_dynamic_shifting", "time_shift_type"];
    private static readonly string[] Spacing = ["timestep_spacing", "steps_offset"];

    private static readonly SchedulerConfig Base = new();
    /// <summary>The σ-space (Euler family) and multistep classes default to linspace spacing; DDIM, DDPM and PNDM to leading.</summary>
    private static readonly SchedulerConfig Linspace = Base with { TimestepSpacing = "linspace" };

    public static readonly DiffusersClass[] All =
    [
        new("DDIMScheduler", [.. Schedule, "clip_sample", "set_alpha_to_one", .. Spacing, "prediction_type", .. Threshold, "clip_sample_range", "rescale_betas_zero_snr"],
            Base with { ClipSample = true, SetAlphaToOne = true }, c => new DdimScheduler(c)),
        new("DDPMScheduler", [.. Schedule, "variance_type", "clip_sample", "prediction_type", .. Threshold, "clip_sample_range", .. Spacing, "rescale_betas_zero_snr"],
            Base with { ClipSample = true, VarianceType = "fixed_small" }, c => new DdpmScheduler(c)),
        new("PNDMScheduler", [.. Schedule, "skip_prk_steps", "set_alpha_to_one", "prediction_type", .. Spacing],
            Base with { SetAlphaToOne = false }, c => new PndmScheduler(c)),
        new("EulerDiscreteScheduler", [.. Schedule, "prediction_type", "interpolation_type", .. SigmaGrids, "sigma_min", "sigma_max", .. Spacing, "timestep_type", "rescale_betas_zero_snr", "final_sigmas_type"],
            Linspace, c => new EulerScheduler(c)),
        new("EulerAncestralDiscreteScheduler", [.. Schedule, "prediction_type", .. Spacing, "rescale_betas_zero_snr"],
            Linspace, c => new EulerAncestralScheduler(c)),
        new("HeunDiscreteScheduler", [.. Schedule, "prediction_type", .. SigmaGrids, "clip_sample", "clip_sample_range", .. Spacing],
            Linspace with { BetaStart = 0.00085, BetaEnd = 0.012 }, c => new HeunScheduler(c)),
        new("KDPM2DiscreteScheduler", [.. Schedule, .. SigmaGrids, "prediction_type", .. Spacing],
            Linspace with { BetaStart = 0.00085, BetaEnd = 0.012 }, c => new Kdpm2Scheduler(c)),
        new("LMSDiscreteScheduler", [.. Schedule, .. SigmaGrids, "prediction_type", .. Spacing],
            Linspace, c => new LmsScheduler(c)),
        new("DPMSolverMultistepScheduler", [.. Schedule, "solver_order", "prediction_type", .. Threshold, "algorithm_type", "solver_type", "lower_order_final", "euler_at_final",
                .. SigmaGrids, "use_lu_lambdas", .. Flow, "final_sigmas_type", "lambda_min_clipped", "variance_type", .. Spacing, "rescale_betas_zero_snr"],
            Linspace, c => new DpmSolverMultistepScheduler(c)),
        new("DPMSolverSinglestepScheduler", [.. Schedule, "solver_order", "prediction_type", .. Threshold, "algorithm_type", "solver_type", "lower_order_final",
                .. SigmaGrids, .. Flow, "final_sigmas_type", "lambda_min_clipped", "variance_type"],
            Base with { LowerOrderFinal = false }, c => new DpmSolverSinglestepScheduler(c)),
        new("DEISMultistepScheduler", [.. Schedule, "solver_order", "prediction_type", .. Threshold, "algorithm_type", "solver_type", "lower_order_final", .. SigmaGrids, .. Flow, .. Spacing],
            Linspace with { AlgorithmType = "deis", SolverType = "logrho" }, c => new DeisScheduler(c)),
        new("UniPCMultistepScheduler", [.. Schedule, "solver_order", "prediction_type", .. Threshold, "predict_x0", "solver_type", "lower_order_final", "disable_corrector", "solver_p",
                .. SigmaGrids, .. Flow, .. Spacing, "final_sigmas_type", "rescale_betas_zero_snr", "sigma_min", "sigma_max", "shift_terminal"],
            Linspace with { SolverType = "bh2" }, c => new UniPcScheduler(c)),
    ];

    /// <summary>Every key some supported class reads.</summary>
    public static readonly HashSet<string> AllKeys = [.. All.SelectMany(c => c.Keys)];

    public static IEnumerable<string> Names => All.Select(c => c.Name);

    /// <summary>The class named <paramref name="name"/>, or null when it is not one reproduced here.</summary>
    public static DiffusersClass? Find(string? name) => All.FirstOrDefault(c => c.Name == name);
}
