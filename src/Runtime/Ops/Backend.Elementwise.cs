namespace DiffusionKernels.Runtime;

public abstract partial class Backend
{
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
        if (!Supports(BackendOp.ConcatChannels))
        {
            OnCpu([a, b, y], [y], (cpu, m) => cpu.ConcatChannels(m[a], m[b], m[y]));
            return;
        }
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
        if (!Supports(BackendOp.Axpby))
        {
            OnCpu([a, b, y], [y], (cpu, m) => cpu.Axpby(alpha, m[a], beta, m.Maybe(b), m[y]));
            return;
        }
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
        if (!Supports(BackendOp.Clamp))
        {
            OnCpu([x, y], [y], (cpu, m) => cpu.Clamp(m[x], lo, hi, m[y]));
            return;
        }
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
        if (!Supports(BackendOp.LinearCombination))
        {
            var terms = xs.ToArray();
            var c = coefficients.ToArray();
            OnCpu([y, .. terms], [y], (cpu, m) => cpu.LinearCombination(m[y], terms.Select(t => m[t]).ToArray(), c));
            return;
        }
        LinearCombinationCore(y, xs, coefficients, perSample);
    }

    private protected virtual void ConcatChannelsCore(Tensor a, Tensor b, Tensor y) => throw NotImplementedHere(BackendOp.ConcatChannels);
    private protected virtual void AxpbyCore(float alpha, Tensor a, float beta, Tensor? b, Tensor y) => throw NotImplementedHere(BackendOp.Axpby);
    private protected virtual void ClampCore(Tensor x, float lo, float hi, Tensor y) => throw NotImplementedHere(BackendOp.Clamp);
    private protected virtual void LinearCombinationCore(Tensor y, ReadOnlySpan<Tensor> xs, ReadOnlySpan<float> coefficients, bool perSample) => throw NotImplementedHere(BackendOp.LinearCombination);
}
