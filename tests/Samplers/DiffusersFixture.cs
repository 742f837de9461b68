using System.Text.Json;
using DiffusionKernels.Runtime;
using DiffusionKernels.Runtime.IO;
using DiffusionKernels.Samplers.Diffusers;
using DiffusionKernels.Tests.Support;

namespace DiffusionKernels.Tests.Samplers;

/// <summary>One recorded run of a diffusers scheduler (tools/fixtures/make_diffusers_fixtures.py).</summary>
public sealed record DiffusersCase(string Id, string Class, string? Config, int Steps, string Model, double? Eta, string Outcome, string? Error, string Asked)
{
    public override string ToString() => $"{Id} {Class} N={Steps} {Asked}{(Eta is { } e ? $" eta={e}" : "")}";
}

/// <summary>The committed diffusers trajectories: the cases, their tensors, and the network the linear cases used.</summary>
public static class DiffusersFixture
{
    private static readonly Lazy<(string Version, List<DiffusersCase> Cases)> Manifest = new(Load);
    private static readonly Lazy<SafetensorsReader> Tensors = new(() => SafetensorsReader.Open(Fixtures.Path("diffusers", "trajectories.safetensors")));
    private static readonly object Gate = new();

    public static string Version => Manifest.Value.Version;
    public static IReadOnlyList<DiffusersCase> Cases => Manifest.Value.Cases;

    private static (string, List<DiffusersCase>) Load()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Fixtures.Path("diffusers", "cases.json")));
        var root = doc.RootElement;
        var configs = root.GetProperty("configs").EnumerateArray().Select(c => c.GetString()!).ToArray();
        var cases = root.GetProperty("cases").EnumerateArray().Select(c => new DiffusersCase(
            c.GetProperty("id").GetString()!, c.GetProperty("class").GetString()!,
            c.TryGetProperty("config", out var k) ? configs[k.GetInt32()] : null,
            c.GetProperty("steps").GetInt32(), c.GetProperty("model").GetString()!,
            c.GetProperty("eta").ValueKind == JsonValueKind.Number ? c.GetProperty("eta").GetDouble() : null,
            c.GetProperty("outcome").GetString()!, c.TryGetProperty("error", out var e) ? e.GetString() : null,
            c.GetProperty("asked").GetRawText())).ToList();
        return (root.GetProperty("diffusers_version").GetString()!, cases);
    }

    public static bool Has(string name)
    {
        lock (Gate) return Tensors.Value.Tensors.Any(t => t.Name == name);
    }

    public static float[] Floats(string name)
    {
        lock (Gate) return Tensors.Value.ReadFloat32(name);
    }

    public static int[] ShapeOf(string name)
    {
        lock (Gate) return Tensors.Value.Tensors.Single(t => t.Name == name).Shape;
    }

    /// <summary>Replays the recorded torch.randn draws: step i gets draw i.</summary>
    public static NoiseSource? Noise(DiffusersCase c, Backend b)
    {
        string name = c.Id + "/noise";
        if (!Has(name)) return null;
        var all = Floats(name);
        return (into, step) =>
        {
            int per = (int)into.Shape.Length;
            b.CopyFromHost(all.AsSpan(step * per, per), into);
        };
    }
}

/// <summary>
/// The fixture's linear network: out = A(t)·x + B(t)·P with A, B the prediction type's smooth functions of the float32
/// timestep (the same formulas as linear_coefficients in make_diffusers_fixtures.py).
/// </summary>
public sealed class LinearDiffusersModel : IDiffusersModel, IDisposable
{
    private readonly string _prediction;
    private readonly Tensor _pattern;

    public LinearDiffusersModel(Backend backend, string prediction, int[] sampleShape, int batch)
    {
        Backend = backend;
        _prediction = prediction;
        SampleShape = sampleShape;
        var p = DiffusersFixture.Floats("pattern");
        _pattern = backend.Upload(Enumerable.Range(0, batch).SelectMany(_ => p).ToArray(), new Shape([batch, .. sampleShape]));
    }

    public Backend Backend { get; }
    public int[] SampleShape { get; }
    public int Evaluations { get; private set; }
    public List<float> Calls { get; } = [];

    public static (float A, float B) Coefficients(string prediction, float t)
    {
        double u = t / 1000.0;
        double a, b;
        switch (prediction)
        {
            case "epsilon":
                a = 0.1 + 0.85 * Math.Sqrt(Math.Min(Math.Max(u, 0.0), 1.0)) + 0.03 * Math.Sin(40 * u);
                b = 0.2 * Math.Cos(7 * u);
                break;
            case "v_prediction":
                a = 0.05 + 0.8 * Math.Sqrt(Math.Min(Math.Max(1 - u, 0.0), 1.0)) + 0.03 * Math.Cos(30 * u);
                b = -0.4 * Math.Sqrt(Math.Min(Math.Max(u, 0.0), 1.0)) + 0.05 * Math.Sin(11 * u);
                break;
            default:
                a = 0.1 * (1 - u) + 0.05 * Math.Sin(30 * u);
                b = 0.6 + 0.1 * Math.Cos(9 * u);
                break;
        }
        return ((float)a, (float)b);
    }

    public void Predict(Tensor input, float timestep, Tensor output)
    {
        var (a, b) = Coefficients(_prediction, timestep);
        Backend.LinearCombination(output, [input, _pattern], [a, b]);
        Calls.Add(timestep);
        Evaluations++;
    }

    public void Dispose() => _pattern.Dispose();
}
