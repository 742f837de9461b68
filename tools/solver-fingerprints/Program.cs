// Fingerprints of every registered sampler's samples, to check that a refactor of the solvers changes no sample.
// Run it before and after on the same machine (the CPU backend's reductions depend on the vector width):
//   dotnet run --project tools/solver-fingerprints -c Release -- before/
//   dotnet run --project tools/solver-fingerprints -c Release -- after/ before/
// Each case (sampler × model × σ grid × settings) writes its samples to OUT/<case>.bin and one line
// "<case> <sha256 prefix>" to OUT/fingerprints.txt; with a baseline folder it prints, per case, "identical" or the
// largest absolute difference, and exits 1 when any case differs or is missing.
using System.Security.Cryptography;
using DiffusionKernels.Runtime;
using DiffusionKernels.Samplers;
using DiffusionKernels.Samplers.Sampling;
using DiffusionKernels.Samplers.Solvers;

if (args.Length is < 1 or > 2)
{
    Console.Error.WriteLine("usage: solver-fingerprints OUT_DIR [BASELINE_DIR]");
    return 2;
}
string outDir = args[0];
Directory.CreateDirectory(outDir);
var specs = new Dictionary<string, string>
{
    // Two scalar-mean components on a linear β schedule (as the CLI tests use).
    ["gmm2"] = """{"shape": [1, 4, 4], "weights": [0.3, 0.7], "means": [-0.8, 0.6], "stds": [0.1, 0.2], "beta_schedule": "linear"}""",
    // Three components, one with a per-pixel mean, on the scaled-linear schedule.
    ["gmm3"] = """{"shape": [2, 2, 2], "weights": [0.2, 0.5, 0.3], "means": [[-1, -0.5, 0, 0.5, 1, 0.2, -0.2, 0.7], 0.3, -0.6], "stds": [0.3, 0.05, 0.4], "beta_schedule": "scaled_linear"}""",
};
var lines = new List<string>();
using var backend = Devices.Create("cpu");
foreach (var (specName, json) in specs)
{
    string path = Path.Combine(Path.GetTempPath(), $"solver-fingerprints-{specName}-{Environment.ProcessId}.json");
    File.WriteAllText(path, json);
    try
    {
        using var model = DiffusionModel.Open("gmm:" + path, backend, batch: 3);
        foreach (var (name, solver, grid, steps, options) in Cases(model))
        {
            var sigmas = grid == "karras_nozero"
                ? SigmaGrids.Karras(steps, model.Denoiser.SigmaMin, model.Denoiser.SigmaMax, appendZero: false)
                : model.Sigmas(grid, steps);
            var samples = SampleRunner.Draw(model, solver, sigmas, count: 5, options);
            string id = $"{specName}.{name}.{grid}.{steps}";
            var bytes = new byte[samples.Length * sizeof(float)];
            Buffer.BlockCopy(samples, 0, bytes, 0, bytes.Length);
            File.WriteAllBytes(Path.Combine(outDir, id + ".bin"), bytes);
            lines.Add($"{id} {Convert.ToHexString(SHA256.HashData(bytes))[..16]}");
        }
    }
    finally
    {
        File.Delete(path);
    }
}
File.WriteAllLines(Path.Combine(outDir, "fingerprints.txt"), lines);
Console.WriteLine($"{lines.Count} cases written to {outDir}");
return args.Length == 2 ? Compare(outDir, args[1], lines) : 0;

// Every sampler with default settings on several grids, then each setting a sampler takes at other values.
static IEnumerable<(string Name, Solver Solver, string Grid, int Steps, SamplerOptions Options)> Cases(DiffusionModel model)
{
    var plain = new SamplerOptions { Seed = 11 };
    foreach (var solver in SamplerRegistry.Solvers)
    {
        foreach (var grid in new[] { "karras", "exponential", "discrete" })
            foreach (var steps in new[] { 1, 2, 3, 6, 13 })
                yield return (solver.Name, solver, grid, steps, plain);
        yield return (solver.Name, solver, "karras_nozero", 8, plain);
        yield return (solver.Name + "@seed5_first3", solver, "karras", 7, new SamplerOptions { Seed = 5, FirstSampleIndex = 3 });
    }
    foreach (var (label, solver) in Variants())
        foreach (var steps in new[] { 4, 10, 30 })
        {
            yield return (label, solver, "karras", steps, plain);
            yield return (label, solver, "karras_nozero", steps, plain);
        }
}

// Settings other than the defaults, by name as the CLI sets them.
static IEnumerable<(string Label, Solver Solver)> Variants()
{
    static Solver Set(string name, params (string Setting, object Value)[] settings) =>
        settings.Aggregate(SamplerRegistry.Get(name), (s, v) => s.With(v.Setting, v.Value));
    foreach (var name in new[] { "euler_ancestral", "ddim", "ddpm", "dpmpp_2m_sde", "dpmpp_3m_sde" })
        foreach (var eta in new[] { 0.0, 0.3, 1.0, 1.5 })
            yield return ($"{name}@eta{eta}", Set(name, ("eta", eta)));
    yield return ("heun@churn5", Set("heun", ("s_churn", 5.0)));
    yield return ("heun@churn40_tmin0.05_tmax10_noise1.003", Set("heun", ("s_churn", 40.0), ("s_tmin", 0.05), ("s_tmax", 10.0), ("s_noise", 1.003)));
    yield return ("rk45@tol1e-3", Set("rk45", ("rtol", 1e-3), ("atol", 1e-3)));
    yield return ("rk45@rtol1e-7_atol1e-6", Set("rk45", ("rtol", 1e-7), ("atol", 1e-6)));
    foreach (var name in new[] { "dpmpp_3m", "dpmpp_3m_sde", "deis_2", "deis_3", "unipc_bh1", "unipc_bh2" })
        yield return ($"{name}@lof_false", Set(name, ("lower_order_final", false)));
    foreach (var name in new[] { "pc_ve", "pc_vp" })
    {
        yield return ($"{name}@snr0.05", Set(name, ("snr", 0.05)));
        yield return ($"{name}@corrector0", Set(name, ("corrector_steps", 0)));
        yield return ($"{name}@corrector3", Set(name, ("corrector_steps", 3)));
    }
    yield return ("annealed_langevin@steps2", Set("annealed_langevin", ("langevin_steps", 2)));
    yield return ("annealed_langevin@eps1e-5", Set("annealed_langevin", ("langevin_epsilon", 1e-5)));
}

static int Compare(string outDir, string baseDir, List<string> lines)
{
    var baseline = File.ReadAllLines(Path.Combine(baseDir, "fingerprints.txt")).Select(l => l.Split(' ')).ToDictionary(p => p[0], p => p[1]);
    int differ = 0, identical = 0;
    foreach (var line in lines)
    {
        var (id, hash) = (line.Split(' ')[0], line.Split(' ')[1]);
        if (!baseline.TryGetValue(id, out var old)) { Console.WriteLine($"{id}: not in the baseline"); differ++; continue; }
        if (old == hash) { identical++; continue; }
        var a = Floats(Path.Combine(outDir, id + ".bin"));
        var b = Floats(Path.Combine(baseDir, id + ".bin"));
        double max = a.Length != b.Length ? double.NaN : a.Zip(b, (p, q) => Math.Abs((double)p - q)).Max();
        int count = a.Length != b.Length ? -1 : a.Zip(b, (p, q) => p != q).Count(d => d);
        Console.WriteLine($"{id}: differs, max |Δ| {max:E3} in {count} of {a.Length} values");
        differ++;
    }
    foreach (var id in baseline.Keys.Except(lines.Select(l => l.Split(' ')[0])))
    {
        Console.WriteLine($"{id}: missing (in the baseline only)");
        differ++;
    }
    Console.WriteLine($"{identical} identical, {differ} differ or are missing");
    return differ == 0 ? 0 : 1;
}

static float[] Floats(string path)
{
    var bytes = File.ReadAllBytes(path);
    var floats = new float[bytes.Length / sizeof(float)];
    Buffer.BlockCopy(bytes, 0, floats, 0, bytes.Length);
    return floats;
}
