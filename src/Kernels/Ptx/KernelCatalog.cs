using System.Reflection;
using System.Reflection.Emit;
using ILGPU;

namespace DiffusionKernels.Kernels.Ptx;

/// <summary>One ILGPU kernel entry point: the method a launcher loads, and how it is grouped.</summary>
/// <param name="Name">Launcher type and method, e.g. <c>GemmKernels.Tiled</c>.</param>
/// <param name="Method">The kernel method.</param>
/// <param name="ExplicitlyGrouped">True for <c>LoadKernel</c> kernels (grid and group given by a <c>KernelConfig</c>),
/// false for auto-grouped ones (first parameter an <c>Index1D/2D/3D</c>).</param>
internal sealed record KernelEntry(string Name, MethodInfo Method, bool ExplicitlyGrouped);

/// <summary>
/// Every GPU kernel of this assembly, found the way the launchers name them: each method of a
/// <c>DiffusionKernels.Kernels.Gpu</c> type whose address is taken (<c>ldftn</c>) to build a kernel delegate for
/// <c>LoadKernel</c>/<c>LoadAutoGroupedKernel</c>. A new kernel is in the list as soon as a launcher loads it, so
/// the offline PTX check and its test cannot silently miss one.
/// </summary>
internal static class KernelCatalog
{
    private static readonly Lazy<IReadOnlyList<KernelEntry>> Entries = new(Find);

    /// <summary>All kernel entry points, sorted by name.</summary>
    public static IReadOnlyList<KernelEntry> All => Entries.Value;

    private static IReadOnlyList<KernelEntry> Find()
    {
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly;
        var gpuNamespace = typeof(Gpu.GemmKernels).Namespace;
        var found = new Dictionary<MethodInfo, KernelEntry>();
        foreach (var type in typeof(KernelCatalog).Assembly.GetTypes().Where(t => t.Namespace == gpuNamespace))
        {
            var bodies = type.GetMethods(all).Cast<MethodBase>().Concat(type.GetConstructors(all));
            foreach (var body in bodies)
                foreach (var target in FunctionPointerTargets(body))
                    if (IsKernel(target, gpuNamespace) && !found.ContainsKey(target))
                        found[target] = new KernelEntry($"{target.DeclaringType!.Name}.{target.Name}", target, !IsIndexType(target.GetParameters()[0].ParameterType));
        }
        return [.. found.Values.OrderBy(e => e.Name, StringComparer.Ordinal)];
    }

    private static bool IsKernel(MethodInfo m, string? gpuNamespace) =>
        m.IsStatic && m.ReturnType == typeof(void) && m.DeclaringType?.Namespace == gpuNamespace && !m.Name.StartsWith('<')
        && m.GetParameters() is { Length: > 0 } p && p.Any(x => x.ParameterType.IsGenericType && x.ParameterType.GetGenericTypeDefinition() == typeof(ArrayView<>));

    private static bool IsIndexType(Type t) => t == typeof(Index1D) || t == typeof(Index2D) || t == typeof(Index3D);

    /// <summary>Methods whose address <paramref name="body"/> loads with <c>ldftn</c>, read by walking its IL.</summary>
    private static IEnumerable<MethodInfo> FunctionPointerTargets(MethodBase body)
    {
        var il = body.GetMethodBody()?.GetILAsByteArray();
        if (il is null) yield break;
        for (int i = 0; i < il.Length;)
        {
            OpCode op;
            if (il[i] == 0xFE) { op = TwoByte[il[i + 1]]; i += 2; }
            else { op = OneByte[il[i]]; i += 1; }
            if (op == OpCodes.Ldftn)
            {
                int token = BitConverter.ToInt32(il, i);
                if (body.Module.ResolveMethod(token, body.DeclaringType?.GetGenericArguments(), body.IsGenericMethod ? body.GetGenericArguments() : null) is MethodInfo m)
                    yield return m;
            }
            i += OperandSize(op, il, i);
        }
    }

    private static int OperandSize(OpCode op, byte[] il, int at) => op.OperandType switch
    {
        OperandType.InlineNone => 0,
        OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
        OperandType.InlineVar => 2,
        OperandType.InlineI8 or OperandType.InlineR => 8,
        OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, at),
        _ => 4,
    };

    private static readonly OpCode[] OneByte = new OpCode[256], TwoByte = new OpCode[256];

    static KernelCatalog()
    {
        foreach (var f in typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            var op = (OpCode)f.GetValue(null)!;
            ushort v = (ushort)op.Value;
            if (op.Size == 1) OneByte[v] = op;
            else if ((v >> 8) == 0xFE) TwoByte[v & 0xFF] = op;
        }
    }
}
