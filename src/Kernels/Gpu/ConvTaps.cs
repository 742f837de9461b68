namespace DiffusionKernels.Kernels.Gpu;

/// <summary>
/// Walks the im2col rows k = ci·(kh·kw) + ky·kw + kx that one gathering thread visits: a start and a fixed step (the
/// thread's rows of every K tile lie on one arithmetic progression), decoded into (channel, tap row, tap column).
/// Implementations differ only in cost, so a kernel generic over them keeps both versions selectable; each also
/// divides the kernel's other indices (pixel to image, row and column) its own way.
/// </summary>
internal interface IConvTaps
{
    /// <summary>⌊n / d⌋ for 0 ≤ n &lt; 2^31.</summary>
    int DivideIndex(int n, FastDivisor d);
    /// <summary>Channel of the current row.</summary>
    int Channel { get; }
    /// <summary>Tap row ky of the current row.</summary>
    int TapRow { get; }
    /// <summary>Tap column kx of the current row.</summary>
    int TapColumn { get; }
    /// <summary>Positions the walk at row <paramref name="k"/>, to move by <paramref name="step"/> (≥ 0) rows at a time.</summary>
    void Start(Conv2dGeometry g, int k, int step);
    /// <summary>Moves to the next row of the progression.</summary>
    void Advance(Conv2dGeometry g);
}

/// <summary>
/// The incremental walk: the step is split once into whole channels, tap rows and tap columns, and each move adds
/// them with at most one carry per digit, so the gather pays no integer division per element (a division by a
/// runtime divisor costs tens of instructions on a GPU; these are a few adds and compares). Its divisions are
/// <see cref="FastDivisor"/> multiply-shifts.
/// </summary>
internal struct TapCursor : IConvTaps
{
    private int _channel, _tapRow, _tapColumn, _stepChannels, _stepRows, _stepColumns;

    public readonly int Channel => _channel;
    public readonly int TapRow => _tapRow;
    public readonly int TapColumn => _tapColumn;

    public readonly int DivideIndex(int n, FastDivisor d) => d.Divide(n);

    public void Start(Conv2dGeometry g, int k, int step)
    {
        int taps = g.TapsDivisor.Divisor;
        _channel = g.TapsDivisor.Divide(k);
        int tap = k - _channel * taps;
        _tapRow = g.KernelWidthDivisor.Divide(tap);
        _tapColumn = tap - _tapRow * g.KernelWidth;
        _stepChannels = g.TapsDivisor.Divide(step);
        int stepTaps = step - _stepChannels * taps;
        _stepRows = g.KernelWidthDivisor.Divide(stepTaps);
        _stepColumns = stepTaps - _stepRows * g.KernelWidth;
    }

    public void Advance(Conv2dGeometry g)
    {
        // Each digit of the step is below its base, so one carry suffices per digit.
        _tapColumn += _stepColumns;
        _tapRow += _stepRows;
        _channel += _stepChannels;
        if (_tapColumn >= g.KernelWidth)
        {
            _tapColumn -= g.KernelWidth;
            _tapRow++;
        }
        if (_tapRow >= g.KernelHeight)
        {
            _tapRow -= g.KernelHeight;
            _channel++;
        }
    }
}

/// <summary>
/// The first version: each row decoded from its index by two integer divisions, and every index divided by the
/// hardware's division sequence (kept selectable, to measure the cursor against).
/// </summary>
internal struct TapDivider : IConvTaps
{
    private int _k, _step, _channel, _tapRow, _tapColumn;

    public readonly int Channel => _channel;
    public readonly int TapRow => _tapRow;
    public readonly int TapColumn => _tapColumn;

    public readonly int DivideIndex(int n, FastDivisor d) => n / d.Divisor;

    public void Start(Conv2dGeometry g, int k, int step)
    {
        _k = k;
        _step = step;
        Decode(g);
    }

    public void Advance(Conv2dGeometry g)
    {
        _k += _step;
        Decode(g);
    }

    private void Decode(Conv2dGeometry g)
    {
        int taps = g.KernelHeight * g.KernelWidth;
        _channel = _k / taps;
        int tap = _k - _channel * taps;
        _tapRow = tap / g.KernelWidth;
        _tapColumn = tap - _tapRow * g.KernelWidth;
    }
}
