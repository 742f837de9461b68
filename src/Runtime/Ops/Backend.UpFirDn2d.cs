namespace DiffusionKernels.Runtime;

public abstract partial class Backend
{
    /// <summary>
    /// upfirdn2d per plane (diffusers' <c>upfirdn2d_native</c>): insert <paramref name="up"/>−1 zeros after every
    /// input sample along both axes, zero-pad by <paramref name="padBefore"/> (top, left) and
    /// <paramref name="padAfter"/> (bottom, right) — negative pads crop —, convolve with <paramref name="kernel"/>
    /// (a true convolution: the kernel is flipped), then keep every <paramref name="down"/>-th sample, and add the
    /// optional per-channel <paramref name="bias"/> [C] (FirUpsample2D's conv bias, applied after its filter).
    /// x [N, C, H, W], kernel [kh, kw], y [N, C, Ho, Wo] with Ho = (H·up + padBefore + padAfter − kh) / down + 1.
    /// </summary>
    public void UpFirDn2d(Tensor x, Tensor kernel, Tensor y, int up = 1, int down = 1, int padBefore = 0, int padAfter = 0, Tensor? bias = null)
    {
        const string op = "upfirdn2d";
        Check.Owned(this, op, x, kernel, y, bias);
        Check.Float(op, (x, "input"), (kernel, "kernel"), (y, "output"), (bias, "bias"));
        Check.Rank(op, x, 4, "input");
        Check.Rank(op, kernel, 2, "kernel");
        Check.Rank(op, y, 4, "output");
        if (up < 1 || down < 1) throw new ArgumentOutOfRangeException(up < 1 ? nameof(up) : nameof(down), $"{op}: up and down factors must be ≥ 1, found up {up}, down {down}");
        int ho = UpFirDn2dOutputSize(x.Shape[2], kernel.Shape[0], up, down, padBefore, padAfter);
        int wo = UpFirDn2dOutputSize(x.Shape[3], kernel.Shape[1], up, down, padBefore, padAfter);
        if (ho < 1 || wo < 1)
            throw new ShapeMismatchException($"{op}: kernel {kernel.Shape} does not fit input {x.Shape} with up {up}, down {down}, pads ({padBefore}, {padAfter})");
        Check.Shape(op, y, $"output (input {x.Shape}, kernel {kernel.Shape}, up {up}, down {down}, pads ({padBefore}, {padAfter}))", x.Shape[0], x.Shape[1], ho, wo);
        if (bias is not null) Check.Shape(op, bias, $"bias (input {x.Shape})", x.Shape[1]);
        if (!Supports(BackendOp.UpFirDn2d))
        {
            OnCpu([x, kernel, y, bias], [y], (cpu, m) => cpu.UpFirDn2d(m[x], m[kernel], m[y], up, down, padBefore, padAfter, m.Maybe(bias)));
            return;
        }
        UpFirDn2dCore(x, kernel, bias, y, up, down, padBefore);
    }

    /// <summary>Output length of <see cref="UpFirDn2d"/> along one axis of input length <paramref name="size"/> (≤ 0 when the kernel does not fit).</summary>
    public static int UpFirDn2dOutputSize(int size, int kernelSize, int up, int down, int padBefore, int padAfter)
    {
        long padded = (long)size * up + padBefore + padAfter - kernelSize;
        return padded < 0 ? 0 : checked((int)(padded / down + 1));
    }

    /// <summary>Kernel entry: shapes are checked; output sizes come from <paramref name="y"/>.</summary>
    private protected virtual void UpFirDn2dCore(Tensor x, Tensor kernel, Tensor? bias, Tensor y, int up, int down, int padBefore) => throw NotImplementedHere(BackendOp.UpFirDn2d);
}
