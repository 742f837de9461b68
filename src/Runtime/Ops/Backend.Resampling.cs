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
        if (!Supports(BackendOp.UpsampleNearest2x))
        {
            OnCpu([x, y], [y], (cpu, m) => cpu.UpsampleNearest2x(m[x], m[y]));
            return;
        }
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
        if (!Supports(BackendOp.AvgPool2x2))
        {
            OnCpu([x, y], [y], (cpu, m) => cpu.AvgPool2x2(m[x], m[y]));
            return;
        }
        AvgPool2x2Core(x, y);
    }

    private protected virtual void UpsampleNearest2xCore(Tensor x, Tensor y) => throw NotImplementedHere(BackendOp.UpsampleNearest2x);
    private protected virtual void AvgPool2x2Core(Tensor x, Tensor y) => throw NotImplementedHere(BackendOp.AvgPool2x2);
}
