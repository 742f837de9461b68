using DiffusionKernels.Samplers.Schedules;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Samplers;

public class DiscreteScheduleTests
{
    [Test]
    public void LinearScheduleMatchesDiffusersEndpoints()
    {
        var s = DiscreteSchedule.Create("linear");
        Assert.That(s.Betas[0], Is.EqualTo(0.0001).Within(1e-9));
        Assert.That(s.Betas[^1], Is.EqualTo(0.02).Within(1e-9));
        // ᾱ_999 of the DDPM linear schedule is 4.04e-5 (σ_max ≈ 157.4).
        Assert.That(s.AlphasCumprod[^1], Is.EqualTo(4.0358e-5).Within(2e-8));
        Assert.That(s.SigmaMax, Is.EqualTo(157.4).Within(0.2));
    }

    [TestCase(10, "leading", 1, new[] { 901, 801, 701, 601, 501, 401, 301, 201, 101, 1 })]
    [TestCase(10, "trailing", 0, new[] { 999, 899, 799, 699, 599, 499, 399, 299, 199, 99 })]
    [TestCase(4, "linspace", 0, new[] { 999, 666, 333, 0 })]
    public void InferenceTimestepsFollowDiffusersSpacing(int steps, string spacing, int offset, int[] expected) =>
        Assert.That(DiscreteSchedule.Create("linear").InferenceTimesteps(steps, spacing, offset), Is.EqualTo(expected));

    [Test]
    public void SigmaToTInvertsTheTable()
    {
        var s = DiscreteSchedule.Create("squaredcos_cap_v2");
        foreach (var t in new[] { 0, 1, 17, 500, 998 }) Assert.That(s.SigmaToT(s.Sigmas[t]), Is.EqualTo(t).Within(1e-9));
        double mid = Math.Exp((Math.Log(s.Sigmas[10]) + Math.Log(s.Sigmas[11])) / 2);
        Assert.That(s.SigmaToT(mid), Is.EqualTo(10.5).Within(1e-9));
        Assert.Throws<ArgumentException>(() => DiscreteSchedule.Create("quadratic"));
    }
}
