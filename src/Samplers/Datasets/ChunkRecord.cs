namespace DiffusionKernels.Samplers.Datasets;

/// <summary>One written chunk as the manifest lists it.</summary>
/// <param name="Index">The chunk's number in the whole dataset.</param>
/// <param name="File">Its .npy file, relative to the dataset folder.</param>
/// <param name="First">Index of its first sample in the dataset.</param>
/// <param name="Count">Samples it holds.</param>
/// <param name="Sha256">SHA-256 of the .npy file (lower-case hex).</param>
/// <param name="ImagesSha256">SHA-256 over its samples' PNGs in order (<see cref="FileHash.OfFiles"/>), when images are written.</param>
internal sealed record ChunkRecord(int Index, string File, long First, int Count, string Sha256, string? ImagesSha256);
