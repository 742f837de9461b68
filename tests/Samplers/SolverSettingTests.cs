using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Denoisers;
using DiffusionKernels.Samplers.Solvers;
using DiffusionKernels.Tests.Support;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Samplers;

public class SolverSettingTests
{
    private static float[] Run(Backend b, IDenoiser d, Solver solver, float[] xT, double[] sigmas, ulong seed = 3)
    {
        using var x = b.Upload(xT, new Shape([xT.Length / 4, 1, 2, 2]));
        using var ctx = new SamplerContext(d, x, new SamplerOptions { Seed = seed });
        solver.Sample(x, sigmas, ctx);
        return x.ToArray();
    }

    private static GaussianMixtureDenoiser Mixture(Backend b) => new(b, [1, 2, 2], [0.4, 0.6], [[-1f], [1f]], [0.3, 0.5]);

    [Test]
    public void EveryRegisteredSamplerHasAUniqueNameAndItsSettingsRoundTrip()
    {
        Assert.That(SamplerRegistry.Solvers.Select(s => s.Name), Is.Unique);
        foreach (var solver in SamplerRegistry.Solvers)
        {
            Assert.That(solver.Settings.Select(s => s.Name), Is.Unique, solver.Name);
            foreach (var setting in solver.Settings)
            {
                var copy = solver.With(setting.Name, setting.Value);
                Assert.That(copy, Is.EqualTo(solver), $"{solver.Name}.{setting.Name} set to its own value");
                Assert.That(copy.Name, Is.EqualTo(solver.Name));
            }
        }
    }

    [Test]
    public void ASettingChangesOnlyItselfAndTheOriginalStays()
    {
        var heun = SamplerRegistry.Get("heun");
        var churned = (Heun)heun.With("s_churn", 10.0).With("s_noise", 1.003);
        Assert.That((churned.SChurn, churned.SNoise, churned.STmin, churned.STmax), Is.EqualTo((10.0, 1.003, 0.0, double.PositiveInfinity)));
        Assert.That(((Heun)SamplerRegistry.Get("heun")).SChurn, Is.Zero, "the registry's instance is not changed");
        var pc = (PredictorCorrector)SamplerRegistry.Get("pc_vp").With("corrector_steps", 3);
        Assert.That((pc.Snr, pc.CorrectorSteps, pc.EvaluationsPerStep), Is.EqualTo((0.01, 3, 4)));
        Assert.That(SamplerRegistry.Get("annealed_langevin").With("langevin_steps", 2).EvaluationsPerStep, Is.EqualTo(2));
    }

    [Test]
    public void EtaVariantsAreConfiguredInstancesOfOneSolver()
    {
        Assert.That(SamplerRegistry.Get("dpmpp_2m"), Is.EqualTo(new DpmSolverPP2M()));
        Assert.That(SamplerRegistry.Get("dpmpp_2m_sde"), Is.EqualTo(new DpmSolverPP2M { Eta = 1 }));
        Assert.That(SamplerRegistry.Get("dpmpp_3m_sde"), Is.EqualTo(new DpmSolverPP3M { Eta = 1 }));
        Assert.That(SamplerRegistry.Get("euler"), Is.EqualTo(new EulerAncestral { Eta = null }));
        Assert.That(new DpmSolverPP2M { Eta = 0.5 }.Name, Is.EqualTo("dpmpp_2m_sde"));
        Assert.That(SamplerRegistry.Get("dpmpp_2m").Takes("eta") || SamplerRegistry.Get("dpmpp_3m").Takes("eta") || SamplerRegistry.Get("euler").Takes("eta"), Is.False,
            "the ODE solvers take no η");
        Assert.That(SamplerRegistry.Get("ddim").Stochastic, Is.False);
        Assert.That(SamplerRegistry.Get("ddim").With("eta", 1.0).Stochastic, Is.True, "DDIM with η > 0 draws noise");
    }

    [Test]
    public void EtaZeroIsTheOdeSolverToTheBit()
    {
        var b = TestBackends.Cpu;
        using var d = Mixture(b);
        var xT = TestData.Normal(4 * 4, 8, 20f);
        var sigmas = SigmaGrids.Karras(9, 0.01, 20);
        var euler = Run(b, d, SamplerRegistry.Get("euler"), xT, sigmas);
        Close.Identical(euler, Run(b, d, SamplerRegistry.Get("ddim"), xT, sigmas), "ddim (η = 0)");
        Close.Identical(euler, Run(b, d, SamplerRegistry.Get("euler_ancestral").With("eta", 0.0), xT, sigmas), "euler_ancestral η = 0");
        Close.Identical(Run(b, d, SamplerRegistry.Get("ddpm"), xT, sigmas), Run(b, d, SamplerRegistry.Get("euler_ancestral"), xT, sigmas), "ddpm = euler_ancestral (η = 1)");
        Close.Identical(Run(b, d, SamplerRegistry.Get("dpmpp_2m"), xT, sigmas), Run(b, d, SamplerRegistry.Get("dpmpp_2m_sde").With("eta", 0.0), xT, sigmas), "2M SDE with η = 0");
    }

    [Test]
    public void BadSettingsAreErrorsNamingTheSolverAndTheSetting()
    {
        var cases = new (Func<Solver> Make, string Solver, string Setting)[]
        {
            (() => new Heun { SChurn = -1 }, "heun", "s_churn"),
            (() => SamplerRegistry.Get("heun").With("s_noise", double.NaN), "heun", "s_noise"),
            (() => SamplerRegistry.Get("rk45").With("rtol", -1e-3), "rk45", "rtol"),
            (() => SamplerRegistry.Get("pc_ve").With("snr", -0.1), "pc_ve", "snr"),
            (() => SamplerRegistry.Get("pc_ve").With("corrector_steps", 1.5), "pc_ve", "corrector_steps"),
            (() => SamplerRegistry.Get("annealed_langevin").With("langevin_epsilon", 0.0), "annealed_langevin", "langevin_epsilon"),
            (() => SamplerRegistry.Get("euler_ancestral").With("eta", -0.5), "euler_ancestral", "eta"),
            (() => new DpmSolverPP3M { Eta = -1 }, "dpmpp_3m", "eta"),
            (() => SamplerRegistry.Get("deis_3").With("lower_order_final", 1), "deis_3", "lower_order_final"),
            (() => SamplerRegistry.Get("euler").With("s_churn", 1.0), "euler", "s_churn"),
        };
        foreach (var (make, solver, setting) in cases)
        {
            var e = Assert.Throws<SolverSettingException>(() => make())!;
            Assert.That((e.SolverName, e.SettingName), Is.EqualTo((solver, setting)), e.Message);
            Assert.That(e.Message, Does.Contain(solver).And.Not.Contain("--"), "library errors name the setting, not a command-line flag");
        }
        Assert.That(Assert.Throws<SolverSettingException>(() => SamplerRegistry.Get("euler").With("s_churn", 1.0))!.Message, Does.Contain("heun"), "says who takes it");
    }

    [Test]
    public void BothToleranceZeroIsAnError()
    {
        var b = TestBackends.Cpu;
        using var d = Mixture(b);
        var e = Assert.Throws<SolverSettingException>(() => Run(b, d, new DormandPrince45 { Rtol = 0, Atol = 0 }, new float[4], [2.0, 0.1]))!;
        Assert.That(e.Message, Does.Contain("rk45").And.Contain("atol"));
    }
}
