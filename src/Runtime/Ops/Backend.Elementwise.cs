namespace DiffusionKernels.Runtime;

public abstract partial class Backend
{
    /// <summary>Nearest-neighbour ×2: x [N, C, H, W] → y [N, C, 2H, 2W], y[.., i, j] = x[.., i/2, j/2].</summary>
    public void UpsampleNearest2x(Tensor x, Tensor y)
    {
        const string op = "upsample nearest 2x";
        Check.Owned(this, op, x, y);
        Check.Float(op, (x, "input"), (y, "output"));
        Check.Rank(op, x, 4, "input");
        Check.Shape(op, y, $"output (input {x.Shape})", x.Shape[0], x.Shape[1], 2 * x.Shape[2], 2 * x.Shape[3]);
        UpsampleNearest2xCore(x, y);
    }

    /// <summary>Average pooling 2×2, stride 2: x [N, C, H, W] → y [N, C, H/2, W/2] (odd edges dropped, as PyTorch).</summary>
    public void AvgPool2x2(Tensor x, Tensor y)
    {
        const string op = "avg pool 2x2";
        Check.Owned(this, op, x, y);
        Check.Float(op, (x, "input"), (y, "output"));
        Check.Rank(op, x, 4, "input");
        if (x.Shape[2] < 2 || x.Shape[3] < 2) throw ShapeMismatchException.For(op, "input spatial size", "≥ 2×2", x.Shape);
        Check.Shape(op, y, $"output (input {x.Shape})", x.Shape[0], x.Shape[1], x.Shape[2] / 2, x.Shape[3] / 2);
        AvgPool2x2Core(x, y);
    }

    /// <summary>Channel concat: a [N, Ca, ...] and b [N, Cb, ...] → y [N, Ca + Cb, ...] (a first).</summary>
    public void ConcatChannels(Tensor a, Tensor b, Tensor y)
    {
        const string op = "concat channels";
        Check.Owned(this, op, a, b, y);
        Check.Float(op, (a, "first"), (b, "second"), (y, "output"));
        if (a.Rank < 2 || a.Rank != b.Rank) throw new ShapeMismatchException($"{op}: first {a.Shape} and second {b.Shape} must have equal rank ≥ 2");
        var dims = a.Shape.ToArray();
        for (int i = 0; i < dims.Length; i++)
            if (i != 1 && dims[i] != b.Shape[i]) throw new ShapeMismatchException($"{op}: first {a.Shape} and second {b.Shape} differ outside the channel dimension");
        dims[1] += b.Shape[1];
        Check.Shape(op, y, $"output (first {a.Shape}, second {b.Shape})", dims);
        ConcatChannelsCore(a, b, y);
    }

    /// <summary>y = a + b element-wise.</summary>
    public void Add(Tensor a, Tensor b, Tensor y) => Axpby(1f, a, 1f, b, y);

    /// <summary>y = alpha·x element-wise.</summary>
    public void Scale(Tensor x, float alpha, Tensor y) => Axpby(alpha, x, 0f, null, y);

    /// <summary>y = alpha·a + beta·b element-wise (b may be null); y may alias a or b.</summary>
    public void Axpby(float alpha, Tensor a, float beta, Tensor? b, Tensor y)
    {
        const string op = "axpby";
        Check.Owned(this, op, a, b, y);
        Check.Float(op, (a, "a"), (b, "b"), (y, "output"));
        if (b is not null) Check.Same(op, a, "a", b, "b");
        Check.Same(op, a, "a", y, "output");
        AxpbyCore(alpha, a, beta, b, y);
    }

    /// <summary>y = min(max(x, lo), hi); y may be x.</summary>
    public void Clamp(Tensor x, float lo, float hi, Tensor y)
    {
        const string op = "clamp";
        Check.Owned(this, op, x, y);
        Check.Float(op, (x, "input"), (y, "output"));
        if (!(lo <= hi)) throw new ArgumentException($"{op}: lower bound {lo} exceeds upper bound {hi}");
        Check.Same(op, x, "input", y, "output");
        ClampCore(x, lo, hi, y);
    }

    /// <summary>Largest number of terms <see cref="LinearCombination"/> accepts.</summary>
    public const int MaxLinearCombinationTerms = 8;

    /// <summary>
    /// y[b] = Σᵢ cᵢ[b]·xᵢ[b], the sampler step's workhorse. All xᵢ and y share one shape [B, ...]; y may
    /// alias any xᵢ. <paramref name="coefficients"/> holds either one value per term (shared by every
    /// sample) or B values per term, laid out term-major: c[i·B + b].
    /// </summary>
    public void LinearCombination(Tensor y, ReadOnlySpan<Tensor> xs, ReadOnlySpan<float> coefficients)
    {
        const string op = "linear combination";
        if (xs.Length < 1 || xs.Length > MaxLinearCombinationTerms)
            throw new ArgumentException($"{op}: takes 1 to {MaxLinearCombinationTerms} terms, found {xs.Length}");
        Check.Owned(this, op, y);
        Check.Float(op, (y, "output"));
        foreach (var x in xs)
        {
            Check.Owned(this, op, x);
            Check.Float(op, (x, "term"));
            Check.Same(op, x, "term", y, "output");
        }
        int batch = y.Shape[0];
        bool perSample = coefficients.Length == xs.Length * batch;
        if (!perSample && coefficients.Length != xs.Length)
            throw new ArgumentException($"{op}: {xs.Length} terms over batch {batch} need {xs.Length} or {xs.Length * batch} coefficients, found {coefficients.Length}");
        LinearCombinationCore(y, xs, coefficients, perSample);
    }

    /// <summary>
    /// Sinusoidal timestep embedding with diffusers' options: freqᵢ = exp(−ln(maxPeriod)·i / (half − shift)),
    /// arg = scale·t·freq, y = [sin, cos] or [cos, sin] when <paramref name="flipSinToCos"/>; an odd dim gets a zero last column.
    /// t [N] float32, y [N, dim].
    /// </summary>
    public void TimestepEmbedding(Tensor timesteps, Tensor y, bool flipSinToCos, float downscaleFreqShift, float scale = 1f, float maxPeriod = 10000f)
    {
        const string op = "timestep embedding";
        Check.Owned(this, op, timesteps, y);
        Check.Float(op, (timesteps, "timesteps"), (y, "output"));
        Check.Rank(op, timesteps, 1, "timesteps");
        Check.Rank(op, y, 2, "output");
        if (y.Shape[0] != timesteps.Shape[0]) throw ShapeMismatchException.For(op, $"output rows (timesteps {timesteps.Shape})", timesteps.Shape[0], y.Shape);
        if (y.Shape[1] < 2) throw ShapeMismatchException.For(op, "embedding dimension", "≥ 2", y.Shape);
        TimestepEmbeddingCore(timesteps, y, flipSinToCos, downscaleFreqShift, scale, maxPeriod);
    }

    /// <summary>Row lookup: y[n] = table[labels[n]]; table [V, D] float32, labels [N] int64, y [N, D]. Out-of-range labels are an error.</summary>
    public void EmbeddingLookup(Tensor table, Tensor labels, Tensor y)
    {
        const string op = "embedding lookup";
        Check.Owned(this, op, table, labels, y);
        Check.Float(op, (table, "table"), (y, "output"));
        Check.DType(op, labels, DType.Int64, "labels");
        Check.Rank(op, table, 2, "table");
        Check.Rank(op, labels, 1, "labels");
        Check.Shape(op, y, $"output (table {table.Shape}, labels {labels.Shape})", labels.Shape[0], table.Shape[1]);
        EmbeddingLookupCore(table, labels, y);
    }

    protected abstract void UpsampleNearest2xCore(Tensor x, Tensor y);
    protected abstract void AvgPool2x2Core(Tensor x, Tensor y);
    protected abstract void ConcatChannelsCore(Tensor a, Tensor b, Tensor y);
    protected abstract void AxpbyCore(float alpha, Tensor a, float beta, Tensor? b, Tensor y);
    protected abstract void ClampCore(Tensor x, float lo, float hi, Tensor y);
    protected abstract void LinearCombinationCore(Tensor y, ReadOnlySpan<Tensor> xs, ReadOnlySpan<float> coefficients, bool perSample);
    protected abstract void TimestepEmbeddingCore(Tensor timesteps, Tensor y, bool flipSinToCos, float downscaleFreqShift, float scale, float maxPeriod);
    protected abstract void EmbeddingLookupCore(Tensor table, Tensor labels, Tensor y);
}
