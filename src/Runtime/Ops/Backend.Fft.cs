using DiffusionKernels.Kernels.Cpu;

namespace DiffusionKernels.Runtime;

public abstract partial class Backend
{
    /// <summary>
    /// Orthonormal 2-D discrete Fourier transform over the last two dimensions of [B, C, H, W] planes held as separate
    /// real and imaginary tensors: X[u, v] = (1/√(HW)) Σ x[h, w]·e^{∓2πi(uh/H + vw/W)} (− forward, + inverse), so the
    /// transform is unitary and <paramref name="inverse"/> undoes it exactly. DC sits at index [0, 0] (no fftshift; the
    /// frequency of index u is u for u &lt; H/2 and u − H above). Any H and W in O(n log n)-like time: radix-2 for powers
    /// of two, mixed radix for other lengths, and on the CPU Bluestein's algorithm for lengths with a large prime
    /// factor (see <see cref="FftPlan"/>; the ILGPU backend needs each line to fit in shared memory: up to 4096 points
    /// for powers of two and 2048 for other sizes on a 48 KB device). <paramref name="im"/> null means a real input. The outputs may be the
    /// inputs (in place), but the real and imaginary outputs must be different tensors.
    /// </summary>
    public void Fft2d(Tensor re, Tensor? im, Tensor outRe, Tensor outIm, bool inverse)
    {
        const string op = "fft2d";
        Check.Owned(this, op, re, im, outRe, outIm);
        Check.Float(op, (re, "real input"), (im, "imaginary input"), (outRe, "real output"), (outIm, "imaginary output"));
        Check.Rank(op, re, 4, "real input");
        if (im is not null) Check.Same(op, re, "real input", im, "imaginary input");
        Check.Same(op, re, "real input", outRe, "real output");
        Check.Same(op, re, "real input", outIm, "imaginary output");
        if (ElementsOverlap(outRe, outIm)) throw new ArgumentException($"{op}: the real and imaginary outputs {outRe.Shape} share elements");
        foreach (var input in new[] { re, im })
            foreach (var output in new[] { outRe, outIm })
                if (input is not null && ElementsOverlap(input, output) && !SameTensorElements(input, output))
                    throw new ArgumentException($"{op}: an output {output.Shape} partly overlaps an input; outputs must be the inputs or separate");
        int b = re.Shape[0], c = re.Shape[1], h = re.Shape[2], w = re.Shape[3];
        long sample = (long)c * h * w;
        var layout = new Fft2dLayout
        {
            Batch = b,
            Channels = c,
            Height = h,
            Width = w,
            InBatchStride = sample,
            OutBatchStride = sample,
            RealInput = im is null ? 1 : 0,
        };
        if (!Supports(BackendOp.Fft2d))
        {
            OnCpu([re, im, outRe, outIm], [outRe, outIm], (cpu, m) => cpu.Fft2d(m[re], m.Maybe(im), m[outRe], m[outIm], inverse));
            return;
        }
        Fft2dCore(re, im, outRe, outIm, layout, inverse);
    }

    /// <summary>
    /// The same orthonormal 2-D FFT on packed complex images: y [B, 2, H, W] holds real parts in channel 0 and
    /// imaginary parts in channel 1 (the k-space layout of the MRI operators); x is either such a complex tensor or a
    /// real image [B, 1, H, W]. y may be x when x is complex.
    /// </summary>
    public void Fft2dComplex(Tensor x, Tensor y, bool inverse)
    {
        const string op = "fft2d complex";
        Check.Owned(this, op, x, y);
        Check.Float(op, (x, "input"), (y, "output"));
        Check.Rank(op, x, 4, "input");
        if (x.Shape[1] != 1 && x.Shape[1] != 2)
            throw ShapeMismatchException.For(op, "input channels", "1 (real) or 2 (real, imaginary)", x.Shape);
        Check.Shape(op, y, $"output (input {x.Shape})", x.Shape[0], 2, x.Shape[2], x.Shape[3]);
        if (ElementsOverlap(x, y) && !SameTensorElements(x, y))
            throw new ArgumentException($"{op}: output {y.Shape} partly overlaps input {x.Shape}; it must be the input or separate");
        int b = x.Shape[0], h = x.Shape[2], w = x.Shape[3];
        long plane = (long)h * w;
        bool real = x.Shape[1] == 1;
        var layout = new Fft2dLayout
        {
            Batch = b,
            Channels = 1,
            Height = h,
            Width = w,
            InRe = 0,
            InIm = real ? 0 : plane,
            InBatchStride = x.Shape[1] * plane,
            OutRe = 0,
            OutIm = plane,
            OutBatchStride = 2 * plane,
            RealInput = real ? 1 : 0,
        };
        if (!Supports(BackendOp.Fft2d))
        {
            OnCpu([x, y], [y], (cpu, m) => cpu.Fft2dComplex(m[x], m[y], inverse));
            return;
        }
        Fft2dCore(x, real ? null : x, y, y, layout, inverse);
    }

    /// <summary>True when two tensors share any element.</summary>
    private static bool ElementsOverlap(Tensor a, Tensor b) =>
        ReferenceEquals(a.Storage, b.Storage) && a.Offset < b.Offset + b.Length && b.Offset < a.Offset + a.Length;

    /// <summary>True when two tensors are the same elements.</summary>
    private static bool SameTensorElements(Tensor a, Tensor b) =>
        ReferenceEquals(a.Storage, b.Storage) && a.Offset == b.Offset && a.Length == b.Length;

    /// <summary>The transform of the planes in <paramref name="layout"/> (offsets relative to each tensor; inIm null for real input).</summary>
    private protected virtual void Fft2dCore(Tensor inRe, Tensor? inIm, Tensor outRe, Tensor outIm, Fft2dLayout layout, bool inverse) => throw NotImplementedHere(BackendOp.Fft2d);
}
