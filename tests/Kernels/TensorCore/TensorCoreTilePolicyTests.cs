using DiffusionKernels.Kernels.Gpu;
using NUnit.Framework;

namespace DiffusionKernels.Tests.Kernels.TensorCore;

/// <summary>The tile-shape and split-K policy of the tensor-core launches: its documented decisions and invariants.</summary>
public class TensorCoreTilePolicyTests
{
    private const int H200 = 132;

    [Test]
    public void LargeGridsTake128Tiles()
    {
        // Batch 128, 128 channels at 32×32 (the CIFAR U-Net's first level): 1,024 tiles of 128×128.
        Assert.That(TensorCoreTilePolicy.Choose(128, 128 * 32 * 32, 1152, 1, H200), Is.EqualTo(new TensorCoreLaunch(TensorCoreTileShape.Tile128, 1)));
        // Exactly one 128×128 tile per SM is enough.
        Assert.That(TensorCoreTilePolicy.Choose(128 * 12, 128 * 11, 64, 1, H200).Tile, Is.EqualTo(TensorCoreTileShape.Tile128));
    }

    [Test]
    public void MediumGridsTake64TilesUnsplit()
    {
        // 131 tiles of 128 (one short of the SMs) but 524 of 64: 64×64 over the whole K.
        Assert.That(TensorCoreTilePolicy.Choose(128, 128 * 131, 4096, 1, H200), Is.EqualTo(TensorCoreLaunch.Fixed64));
        // 132 tiles of 64: a full wave without splitting.
        Assert.That(TensorCoreTilePolicy.Choose(64 * 12, 64 * 11, 4096, 1, H200), Is.EqualTo(TensorCoreLaunch.Fixed64));
    }

    [Test]
    public void BatchOneDeepLayersSplitK()
    {
        // 256 → 256 channels, 3×3, at 4×4 pixels, batch 1: 4 output tiles, K = 2,304. 33 slices would fill the SMs;
        // 16 is the cap; slices of 144 round up to 160 (5 stages), so 15 slices cover K.
        var launch = TensorCoreTilePolicy.Choose(256, 16, 2304, 1, H200);
        Assert.That(launch, Is.EqualTo(new TensorCoreLaunch(TensorCoreTileShape.Tile64, 15)));
        Assert.That(TensorCoreTilePolicy.SliceLength(2304, 16), Is.EqualTo(160));
        // 128 channels at 8×8 (K = 1,152): 2 tiles want 66 slices, K allows 9 of ≥ 128.
        Assert.That(TensorCoreTilePolicy.Choose(128, 64, 1152, 1, H200), Is.EqualTo(new TensorCoreLaunch(TensorCoreTileShape.Tile64, 9)));
    }

    [Test]
    public void ShortKIsNeverSplit()
    {
        Assert.That(TensorCoreTilePolicy.Choose(64, 64, 255, 1, H200), Is.EqualTo(TensorCoreLaunch.Fixed64)); // one slice of ≥ 128 only
        Assert.That(TensorCoreTilePolicy.Choose(64, 64, 256, 1, H200), Is.EqualTo(new TensorCoreLaunch(TensorCoreTileShape.Tile64, 2)));
        Assert.That(TensorCoreTilePolicy.Choose(1, 1, 0, 1, H200), Is.EqualTo(TensorCoreLaunch.Fixed64));
        Assert.That(TensorCoreTilePolicy.Choose(0, 5, 512, 1, H200), Is.EqualTo(TensorCoreLaunch.Fixed64)); // no output
    }

    [Test]
    public void SmCountDrivesTheChoice()
    {
        // 16 tiles of 64 fill a 16-SM GPU without a split, not an H200; an unknown count is read as an H200.
        Assert.That(TensorCoreTilePolicy.Choose(256, 256, 2048, 1, 16), Is.EqualTo(TensorCoreLaunch.Fixed64));
        // On 132: 9 slices wanted, 228 rounds up to 256, so 8 cover K.
        Assert.That(TensorCoreTilePolicy.Choose(256, 256, 2048, 1, H200), Is.EqualTo(new TensorCoreLaunch(TensorCoreTileShape.Tile64, 8)));
        Assert.That(TensorCoreTilePolicy.Choose(256, 256, 2048, 1, 0), Is.EqualTo(TensorCoreTilePolicy.Choose(256, 256, 2048, 1, H200)));
        Assert.Throws<ArgumentOutOfRangeException>(() => TensorCoreTilePolicy.Choose(-1, 1, 1, 1, H200));
    }

    [Test]
    public void EveryChoiceKeepsItsInvariants()
    {
        var rng = new Random(7);
        for (int trial = 0; trial < 20_000; trial++)
        {
            int m = rng.Next(1, 2049), n = rng.Next(1, 70_000), k = rng.Next(1, 10_000), batch = rng.Next(1, 9), sms = rng.Next(1, 200);
            var launch = TensorCoreTilePolicy.Choose(m, n, k, batch, sms);
            long tiles128 = TensorCoreTilePolicy.Tiles(m, n, batch, 128), tiles64 = TensorCoreTilePolicy.Tiles(m, n, batch, 64);
            string shape = $"{batch}×{m}×{n}×{k} on {sms} SMs: {launch}";
            Assert.That(launch.Tile == TensorCoreTileShape.Tile128, Is.EqualTo(tiles128 >= sms), shape);
            Assert.That(launch.Slices, Is.InRange(1, TensorCoreTilePolicy.MaxSlices), shape);
            if (!launch.IsSplit) continue;
            // A split only where 64×64 tiles leave SMs idle, with whole stages of at least MinSliceK, no empty slice,
            // and a grid (and workspace) of at most 2·SMs tiles.
            int sliceK = TensorCoreTilePolicy.SliceLength(k, launch.Slices);
            Assert.That(tiles64, Is.LessThan(sms), shape);
            Assert.That(sliceK % TensorCoreTile.TileK, Is.Zero, shape);
            Assert.That(sliceK, Is.GreaterThanOrEqualTo(TensorCoreTilePolicy.MinSliceK), shape);
            Assert.That((launch.Slices - 1) * sliceK, Is.LessThan(k), shape);
            Assert.That(launch.Slices * sliceK, Is.GreaterThanOrEqualTo(k), shape);
            Assert.That(launch.Slices * tiles64, Is.LessThan(2L * sms), shape);
        }
    }
}
