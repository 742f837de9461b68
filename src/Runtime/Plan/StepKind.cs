namespace DiffusionKernels.Runtime.Plan;

/// <summary>
/// The op kind of a plan step, from its name: the last dotted part that is not just an index, without its trailing
/// index (<c>down_blocks.0.resnets.1.conv1</c> → <c>conv</c>, <c>up_blocks.2.cat0</c> → <c>cat</c>,
/// <c>attentions.0.to_out.0</c> → <c>to_out</c>, <c>time_embedding.linear_1</c> → <c>linear</c>).
/// </summary>
internal static class StepKind
{
    public static string Of(string stepName)
    {
        var part = stepName.Split('.').LastOrDefault(p => !p.All(char.IsAsciiDigit)) ?? stepName;
        return part.TrimEnd('0', '1', '2', '3', '4', '5', '6', '7', '8', '9').TrimEnd('_');
    }

    /// <summary>Launches summed per kind, most first (ties by name).</summary>
    public static IReadOnlyList<(string Kind, int Launches)> Totals(IEnumerable<(string Step, int Launches)> steps) =>
        [.. steps.GroupBy(s => Of(s.Step)).Select(g => (Kind: g.Key, Launches: g.Sum(s => s.Launches)))
            .OrderByDescending(g => g.Launches).ThenBy(g => g.Kind, StringComparer.Ordinal)];
}
