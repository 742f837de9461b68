namespace DiffusionKernels.Runtime.Models;

/// <summary>
/// Uploads a model's weights to a backend as the layers ask for them, checking each name, shape and value (a NaN or
/// infinite weight is a corrupt checkpoint, reported with the tensor's name), and afterwards reports any weight no
/// layer used. Accepts diffusers' legacy attention names.
/// </summary>
/// <remarks>Used by one thread while a model is built.</remarks>
internal sealed class ModelWeights : IDisposable
{
    private static readonly (string Old, string New)[] LegacyAttention =
        [(".query.", ".to_q."), (".key.", ".to_k."), (".value.", ".to_v."), (".proj_attn.", ".to_out.0.")];

    private readonly IWeightSource? _source;
    private readonly Random? _random;
    private readonly Dictionary<string, string> _canonical = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);
    private readonly List<Tensor> _uploaded = [];
    private readonly List<(string Name, int[] Shape)> _taken = [];

    /// <summary>Random weights for any name asked for (benchmarks of a topology without a checkpoint).</summary>
    public static ModelWeights Random(Backend backend, int seed) => new(backend, new Random(seed));

    private ModelWeights(Backend backend, Random random)
    {
        Backend = backend;
        _random = random;
    }

    public ModelWeights(IWeightSource source, Backend backend, IEnumerable<string>? ignored = null)
    {
        _source = source;
        Backend = backend;
        foreach (var name in source.Names)
        {
            var canonical = Canonical(name);
            if (!_canonical.TryAdd(canonical, name))
                throw new ModelFormatException($"{source.Origin}: tensors '{_canonical[canonical]}' and '{name}' are the same weight under old and new names");
        }
        foreach (var name in ignored ?? []) _used.Add(name);
    }

    public Backend Backend { get; }
    /// <summary>Elements uploaded so far.</summary>
    public long ParameterCount { get; private set; }

    /// <summary>True when the source holds <paramref name="name"/> (under its current or legacy name).</summary>
    public bool Has(string name) => _source is null || _canonical.ContainsKey(name);

    /// <summary>The file or origin, for error messages.</summary>
    public string Origin => _source?.Origin ?? "random weights";

    /// <summary>Uploads <paramref name="name"/>, which must have <paramref name="shape"/>.</summary>
    public Tensor Take(string name, params int[] shape)
    {
        if (_source is null)
        {
            _taken.Add((name, (int[])shape.Clone()));
            return Keep(Backend.Upload(Synthesize(name, shape), new Shape(shape)));
        }
        if (!_canonical.TryGetValue(name, out var stored))
            throw new ModelFormatException($"{_source.Origin}: missing weight '{name}' (expected shape {new Shape(shape)})");
        var found = _source.ShapeOf(stored);
        // Legacy AttentionBlock files sometimes store linear weights as 1×1 convolutions.
        bool squeezedConv = found.Length == shape.Length + 2 && found[^1] == 1 && found[^2] == 1 && found.AsSpan(0, found.Length - 2).SequenceEqual(shape);
        if (!found.SequenceEqual(shape) && !squeezedConv)
            throw new ModelFormatException($"{_source.Origin}: weight '{stored}' has shape {Shape.Format(found)}, expected {new Shape(shape)}");
        _used.Add(stored);
        _taken.Add((name, (int[])shape.Clone()));
        var values = _source.ReadFloat32(stored);
        RequireFinite(stored, values);
        return Keep(Backend.Upload(values, new Shape(shape)));
    }

    /// <summary>The weights taken so far, in order, under their current names with the shapes the layers asked for.</summary>
    public IReadOnlyList<(string Name, int[] Shape)> Taken => _taken;

    private void RequireFinite(string name, float[] values)
    {
        int first = -1;
        long count = 0;
        for (int i = 0; i < values.Length; i++)
        {
            if (float.IsFinite(values[i])) continue;
            if (first < 0) first = i;
            count++;
        }
        if (count > 0)
            throw new ModelFormatException($"{Origin}: weight '{name}' holds {count} non-finite value{(count > 1 ? "s" : "")} (NaN or ±Inf), the first at element {first} ({values[first]}); the checkpoint is corrupt");
    }

    /// <summary>
    /// Uploads a fixed, non-learned tensor a layer needs (e.g. a FIR filter); it is freed with the weights but is
    /// neither read from the file nor counted as a parameter.
    /// </summary>
    public Tensor Constant(float[] values, params int[] shape)
    {
        var t = Backend.Upload(values, new Shape(shape));
        _uploaded.Add(t);
        return t;
    }

    private Tensor Keep(Tensor t)
    {
        _uploaded.Add(t);
        ParameterCount += t.Length;
        return t;
    }

    /// <summary>PyTorch-like initialisation: weights ~ U(−1/√fan_in, 1/√fan_in), norm scales 1, biases small.</summary>
    private float[] Synthesize(string name, int[] shape)
    {
        var data = new float[new Shape(shape).Length];
        bool isNormScale = shape.Length == 1 && name.Contains("norm", StringComparison.Ordinal) && name.EndsWith(".weight", StringComparison.Ordinal);
        float bound = shape.Length > 1 ? 1f / MathF.Sqrt(data.Length / shape[0]) : 0.02f;
        for (int i = 0; i < data.Length; i++) data[i] = isNormScale ? 1f : bound * (2 * _random!.NextSingle() - 1);
        return data;
    }

    /// <summary>Fails when the file holds weights no layer asked for.</summary>
    public void EnsureAllUsed()
    {
        if (_source is null) return;
        var extra = _source.Names.Where(n => !_used.Contains(n)).OrderBy(n => n, StringComparer.Ordinal).ToList();
        if (extra.Count > 0)
            throw new ModelFormatException($"{_source.Origin}: unexpected weight{(extra.Count > 1 ? "s" : "")} not used by this config: {string.Join(", ", extra.Take(10).Select(n => $"'{n}' {Shape.Format(_source.ShapeOf(n))}"))}{(extra.Count > 10 ? $" and {extra.Count - 10} more" : "")}");
    }

    public void Dispose()
    {
        foreach (var t in _uploaded) t.Dispose();
        _uploaded.Clear();
    }

    private static string Canonical(string name)
    {
        if (!name.Contains(".attentions.", StringComparison.Ordinal)) return name;
        foreach (var (o, n) in LegacyAttention)
            if (name.Contains(o, StringComparison.Ordinal)) return name.Replace(o, n, StringComparison.Ordinal);
        return name;
    }
}
