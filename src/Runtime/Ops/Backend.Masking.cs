namespace DiffusionKernels.Runtime;

public abstract partial class Backend
{
    /// <summary>
    /// y = x ⊙ mask with the mask broadcast over channels: x and y [B, C, H, W]; mask [H, W] or [1, 1, H, W] (shared by
    /// the batch) or [B, 1, H, W] (one per sample). Any values are allowed (0/1 masks, k-space weights). y may be x.
    /// </summary>
    public void MultiplyMask(Tensor x, Tensor mask, Tensor y)
    {
        const string op = "multiply mask";
        Check.Owned(this, op, x, mask, y);
        Check.Float(op, (x, "input"), (mask, "mask"), (y, "output"));
        Check.Rank(op, x, 4, "input");
        Check.Same(op, x, "input", y, "output");
        int b = x.Shape[0], h = x.Shape[2], w = x.Shape[3];
        bool perSample = MaskIsPerSample(op, mask, b, h, w, $"input {x.Shape}");
        if (!Supports(BackendOp.MultiplyMask))
        {
            OnCpu([x, mask, y], [y], (cpu, m) => cpu.MultiplyMask(m[x], m[mask], m[y]));
            return;
        }
        MultiplyMaskCore(x, mask, y, perSample);
    }

    /// <summary>
    /// Copies channels [xFirst, xFirst + count) of x [B, Cx, H, W] into channels [yFirst, yFirst + count) of
    /// y [B, Cy, H, W] (e.g. the real part of a packed complex image, or a real image into one); other channels of y
    /// are left as they are. x and y must be different tensors.
    /// </summary>
    public void CopyChannels(Tensor x, int xFirst, Tensor y, int yFirst, int count)
    {
        const string op = "copy channels";
        Check.Owned(this, op, x, y);
        Check.Float(op, (x, "input"), (y, "output"));
        Check.Rank(op, x, 4, "input");
        Check.Rank(op, y, 4, "output");
        if (x.Shape[0] != y.Shape[0] || x.Shape[2] != y.Shape[2] || x.Shape[3] != y.Shape[3])
            throw new ShapeMismatchException($"{op}: input {x.Shape} and output {y.Shape} differ outside the channel dimension");
        if (count < 1 || xFirst < 0 || yFirst < 0 || xFirst + count > x.Shape[1] || yFirst + count > y.Shape[1])
            throw new ArgumentOutOfRangeException(nameof(count), $"{op}: channels [{xFirst}, {xFirst + count}) of input {x.Shape} into [{yFirst}, {yFirst + count}) of output {y.Shape} are out of range");
        if (ReferenceEquals(x.Storage, y.Storage) && x.Offset < y.Offset + y.Length && y.Offset < x.Offset + x.Length)
            throw new ArgumentException($"{op}: input {x.Shape} and output {y.Shape} share elements");
        if (!Supports(BackendOp.CopyChannels))
        {
            OnCpu([x, y], [y], (cpu, m) => cpu.CopyChannels(m[x], xFirst, m[y], yFirst, count));
            return;
        }
        CopyChannelsCore(x, xFirst, y, yFirst, count);
    }

    /// <summary>Validates a mask shape against [B, ·, H, W] data; true when it holds one mask per sample.</summary>
    private static bool MaskIsPerSample(string op, Tensor mask, int batch, int h, int w, string data)
    {
        if (mask.Rank == 2 && mask.Shape[0] == h && mask.Shape[1] == w) return false;
        if (mask.Rank == 4 && mask.Shape[1] == 1 && mask.Shape[2] == h && mask.Shape[3] == w && (mask.Shape[0] == 1 || mask.Shape[0] == batch))
            return mask.Shape[0] != 1;
        throw ShapeMismatchException.For(op, $"mask ({data})", $"[{h},{w}], [1,1,{h},{w}] or [{batch},1,{h},{w}]", mask.Shape);
    }

    private protected virtual void MultiplyMaskCore(Tensor x, Tensor mask, Tensor y, bool maskPerSample) => throw NotImplementedHere(BackendOp.MultiplyMask);
    private protected virtual void CopyChannelsCore(Tensor x, int xFirst, Tensor y, int yFirst, int count) => throw NotImplementedHere(BackendOp.CopyChannels);
}
