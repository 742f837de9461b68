using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Diffusers;
using DiffusionKernels.Samplers.Sampling;
using DiffusionKernels.Samplers.Solvers;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Plan;

/// <summary>
/// A sampling run of N steps on the ILGPU backend waits for the device O(1) times, not once per step: the only
/// N-dependent waits are the non-finite flag reads, one every <see cref="SamplerContext.FiniteCheckInterval"/> steps.
/// Counted with <see cref="Backend.HostSynchronizations"/> (every stream synchronisation the backend makes) on a tiny
/// U-Net on ILGPU's CPU accelerator, which runs the same host code as CUDA.
/// </summary>
[NonParallelizable] // the shared ILGPU backend's counter must see this fixture's runs alone
public class HostSynchronizationTests
{
    private string _dir = null!;
    private DiffusionModel _model = null!;

    private static IlgpuBackend Backend => TestBackends.IlgpuCpu;

    [OneTimeSetUp]
    public void OpenModel()
    {
        _dir = Path.Combine(Path.GetTempPath(), $"dk-syncs-{Guid.NewGuid():N}");
        // The waits under test do not depend on the model's size.
        _model = DiffusionModel.Open(TinyModel.WriteSmallest(_dir), Backend, batch: 1);
        // Warm-up, once for the fixture: kernels compiled, every buffer of the loops allocated.
        foreach (var loop in Loops) Run(loop, 2, checkFinite: true);
    }

    [OneTimeTearDown]
    public void CloseModel()
    {
        _model.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    public static readonly string[] Loops = ["dpmpp_2m", "euler_ancestral", "diffusers"];

    /// <summary>
    /// Waits of one run outside the step loop, whatever N is: the copy of the finished samples to the host (1). Every
    /// other wait of a run is a flag read (⌈N/8⌉, the last step always read) or a staging-ring wrap (below).
    /// </summary>
    private const int FixedWaits = 1;

    [Test]
    public void WaitsGrowOnlyWithTheNonFiniteFlagReads([ValueSource(nameof(Loops))] string loop)
    {
        var (at8, wraps8) = Count(loop, 8, checkFinite: true);
        var (at16, wraps16) = Count(loop, 16, checkFinite: true);
        int reads8 = Ceil(8), reads16 = Ceil(16);
        Assert.Multiple(() =>
        {
            Assert.That(at16 - at8, Is.LessThanOrEqualTo(Ceil(16 - 8)), $"{loop}: waits of 16 steps ({at16}) minus those of 8 ({at8})");
            Assert.That(at8, Is.LessThanOrEqualTo(reads8 + FixedWaits), $"{loop}: waits of 8 steps");
            Assert.That(at16, Is.LessThanOrEqualTo(reads16 + FixedWaits), $"{loop}: waits of 16 steps");
            // The flags are read: a check that reads nothing would pass the bounds above and catch nothing.
            Assert.That(at16, Is.GreaterThanOrEqualTo(reads16), $"{loop}: the non-finite flags are read every {SamplerContext.FiniteCheckInterval} steps");
            // A wrap of the 1 MiB staging ring (256-byte slots: one per ~4,096 small uploads) waits once; a run of a
            // few dozen uploads wraps at most once wherever the shared ring's head stands.
            Assert.That(wraps8, Is.LessThanOrEqualTo(1));
            Assert.That(wraps16, Is.LessThanOrEqualTo(1));
        });
    }

    [Test]
    public void WithoutTheNonFiniteCheckWaitsDoNotDependOnTheStepCount([ValueSource(nameof(Loops))] string loop)
    {
        // Two step counts 8 apart are enough to show the independence (and cost half of 8 vs 16 on the emulator).
        var (at2, _) = Count(loop, 2, checkFinite: false);
        var (at10, _) = Count(loop, 10, checkFinite: false);
        Assert.Multiple(() =>
        {
            Assert.That(at10, Is.EqualTo(at2), $"{loop}: waits of 10 steps vs 2 steps");
            Assert.That(at2, Is.LessThanOrEqualTo(FixedWaits), $"{loop}: waits of a run without the check");
        });
    }

    private static int Ceil(int steps) => (steps + SamplerContext.FiniteCheckInterval - 1) / SamplerContext.FiniteCheckInterval;

    /// <summary>Host waits of one run, staging-ring wraps apart (they depend on the ring's state, not on the run), and the wraps.</summary>
    private (long Waits, long Wraps) Count(string loop, int steps, bool checkFinite)
    {
        long waits = Backend.HostSynchronizations, wraps = Backend.StagingWraps;
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        var samples = Run(loop, steps, checkFinite);
        long wrapped = Backend.StagingWraps - wraps;
        TestContext.Progress.WriteLine($"{loop}, {steps} steps, check {checkFinite}: {Backend.HostSynchronizations - waits} waits, {wrapped} wraps, " +
            $"{System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds:F1} s");
        Assert.That(samples, Has.All.Matches<float>(float.IsFinite), $"{loop}, {steps} steps");
        return (Backend.HostSynchronizations - waits - wrapped, wrapped);
    }

    private float[] Run(string loop, int steps, bool checkFinite)
    {
        var options = new SamplerOptions { Seed = 7, CheckFinite = checkFinite };
        return loop == "diffusers"
            ? SampleRunner.Draw(_model, DiffusersScheduler.FromConfig(_model.Schedule), steps, 1, options)
            : SampleRunner.Draw(_model, SamplerRegistry.Get(loop), _model.Sigmas("karras", steps), 1, options);
    }
}
