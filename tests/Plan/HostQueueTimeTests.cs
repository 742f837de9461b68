using DiffusionKernels.Runtime.Plan;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Plan;

/// <summary>
/// <see cref="ExecutionPlan.HostQueueTimes"/>: per step, the host time to queue it, a median over runs that wait for the
/// device only between runs (so what it measures is the queueing, not the device work).
/// </summary>
public class HostQueueTimeTests
{
    private const int SleepMs = 4;

    private static ExecutionPlan PlanWithASlowStep()
    {
        var builder = new PlanBuilder(TestBackends.IlgpuCpu);
        var a = builder.Value("a", 4);
        builder.Step("blocks.0.slow", [a], _ => Thread.Sleep(SleepMs));
        builder.Step("blocks.0.fast", [a], _ => { });
        return builder.Compile();
    }

    [Test]
    public void EachStepGetsItsOwnHostTimeInOrder()
    {
        using var plan = PlanWithASlowStep();
        var times = plan.HostQueueTimes(runs: 3);
        Assert.That(times.Select(t => t.Step), Is.EqualTo(new[] { "blocks.0.slow", "blocks.0.fast" }));
        // Thread.Sleep waits at least its argument, so every run of the slow step (hence the median) takes that long.
        Assert.That(times[0].HostUs, Is.GreaterThanOrEqualTo(SleepMs * 1000 * 0.99));
        Assert.That(times[1].HostUs, Is.GreaterThanOrEqualTo(0).And.LessThan(times[0].HostUs));
    }

    [Test]
    public void WaitsForTheDeviceOnlyBetweenRuns()
    {
        using var plan = PlanWithASlowStep();
        var backend = TestBackends.IlgpuCpu;
        long before = backend.HostSynchronizations;
        plan.HostQueueTimes(runs: 4);
        Assert.That(backend.HostSynchronizations - before, Is.EqualTo(5), "one wait before each run and one at the end");
    }

    [Test]
    public void AtLeastOneRunIsNeeded()
    {
        using var plan = PlanWithASlowStep();
        Assert.Throws<ArgumentOutOfRangeException>(() => plan.HostQueueTimes(0));
    }
}
