using DiffusionKernels.Runtime.Plan;

namespace DiffusionKernels.Runtime.Models.Layers;

/// <summary>
/// One forward pass being recorded, as every block sees it (the locals of diffusers' <c>UNet2DModel.forward</c>): the
/// builder, the network input, the activated time embedding and the residual stack. State that only one family of
/// blocks carries from block to block (the skip blocks' <see cref="ScoreSdeSkipPath"/>) lives in
/// <see cref="State{T}"/>, so the common block interfaces know nothing of it.
/// </summary>
/// <remarks>Created per compile: passes on different threads share nothing.</remarks>
internal sealed class BlockPass(PlanBuilder builder, PlanValue input, TimeProjections timeEmbedding, UNetFusions fusions)
{
    private readonly Dictionary<Type, object> _familyState = [];

    /// <summary>The plan being recorded.</summary>
    public PlanBuilder Builder { get; } = builder;

    /// <summary>The sample as the network sees it (after <c>center_input_sample</c>), before conv_in.</summary>
    public PlanValue Input { get; } = input;

    /// <summary>act(time embedding) and every resnet's projection of it.</summary>
    public TimeProjections TimeEmbedding { get; } = timeEmbedding;

    /// <summary>The fusions this forward is recorded with.</summary>
    public UNetFusions Fusions { get; } = fusions;

    /// <summary>diffusers' <c>down_block_res_samples</c>: pushed by down blocks, popped newest first by up blocks.</summary>
    public List<PlanValue> Residuals { get; } = [];

    /// <summary>The state of one block family for this pass, made by <paramref name="create"/> on first use.</summary>
    public T State<T>(Func<BlockPass, T> create) where T : class
    {
        if (_familyState.TryGetValue(typeof(T), out var state)) return (T)state;
        var created = create(this);
        _familyState.Add(typeof(T), created);
        return created;
    }

    /// <summary>The state of one block family, or null when no block of it has run in this pass.</summary>
    public T? Find<T>() where T : class => _familyState.TryGetValue(typeof(T), out var state) ? (T)state : null;
}
