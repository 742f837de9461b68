namespace DiffusionKernels.Runtime;

/// <summary>What a backend runs on, as <c>dk info</c> prints it.</summary>
public sealed record DeviceInfo(
    string Name,
    string Kind,
    string Description,
    long MemoryBytes,
    int Multiprocessors,
    int WarpSize,
    string? Architecture = null,
    string? InstructionSet = null,
    int SimdWidthBits = 0)
{
    /// <summary>A one-line description: name, kind, memory and the kind's details (SMs and architecture on CUDA, SIMD width on the CPU).</summary>
    public override string ToString()
    {
        var mem = MemoryBytes > 0 ? $"{MemoryBytes / (1024.0 * 1024 * 1024):F1} GiB" : "n/a";
        var extra = Kind switch
        {
            "cuda" => $"SMs {Multiprocessors}, warp {WarpSize}, arch {Architecture}, PTX ISA {InstructionSet}",
            "cpu" => $"cores {Multiprocessors}, SIMD {SimdWidthBits}-bit",
            _ => $"multiprocessors {Multiprocessors}, threads/warp {WarpSize}",
        };
        return $"{Name,-10} {Description} | memory {mem} | {extra}";
    }
}
