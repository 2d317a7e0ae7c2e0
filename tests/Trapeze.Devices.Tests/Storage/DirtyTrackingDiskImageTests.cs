using Trapeze.Devices.Storage;

namespace Trapeze.Devices.Tests.Storage;

/// <summary>Following a disk's writes for live migration: which blocks are marked, and only while tracked.</summary>
public sealed class DirtyTrackingDiskImageTests
{
    private const int Block = 64 * 1024;

    private static List<ulong> Blocks(ulong[] bitmap)
    {
        var list = new List<ulong>();
        for (int i = 0; i < bitmap.Length; i++)
            for (int b = 0; b < 64; b++)
                if ((bitmap[i] >> b & 1) != 0) list.Add((ulong)i * 64 + (ulong)b);
        return list;
    }

    [Fact]
    public void Writes_discards_and_zeroes_mark_the_blocks_they_touch_while_tracked()
    {
        using var dir = new ScratchDir();
        string path = dir.File("d.raw");
        // 100 blocks and a half: the last block is partial.
        DiskImages.Create(path, DiskImages.Raw, 100UL * Block + Block / 2);
        using var disk = new DirtyTrackingDiskImage(DiskImages.Open(path, new DiskOpenOptions(DiskImages.Raw)));

        disk.Write(0, new byte[512]); // before tracking: not marked
        DiskDirtyBitmap map = disk.StartTracking(Block);
        Assert.True(disk.Tracking);
        Assert.Equal(101UL, map.BlockCount);
        Assert.Throws<InvalidOperationException>(() => disk.StartTracking(Block));

        disk.Write(Block - 512, new byte[1024]);              // straddles blocks 0 and 1
        disk.Discard(10UL * Block, 3UL * Block);              // 10, 11, 12
        disk.WriteZeroes(100UL * Block, 512, mayUnmap: true); // the partial last block
        var taken = new ulong[map.Words];
        Assert.Equal(6, map.Take(taken));
        Assert.Equal([0UL, 1, 10, 11, 12, 100], Blocks(taken));

        // Taking clears: what is taken again is only what was written since (ORed into what the caller holds).
        var again = new ulong[map.Words];
        Assert.Equal(0, map.Take(again));
        disk.Write(5UL * Block, new byte[512]);
        Assert.Equal(7, map.Take(taken));
        Assert.Equal(0, map.Take(new ulong[map.Words]));

        disk.StopTracking();
        Assert.False(disk.Tracking);
        disk.Write(7UL * Block, new byte[512]);
        Assert.Equal(0, map.Take(new ulong[map.Words]));
    }

    [Fact]
    public void Unallocated_qcow2_clusters_are_known_zero_without_reading()
    {
        using var dir = new ScratchDir();
        DiskImages.Create(dir.File("d.qcow2"), DiskImages.Qcow2, 64UL * Block);
        DiskImages.Create(dir.File("d.raw"), DiskImages.Raw, 64UL * Block);
        using var qcow2 = new DirtyTrackingDiskImage(DiskImages.Open(dir.File("d.qcow2")));
        using var raw = new DirtyTrackingDiskImage(DiskImages.Open(dir.File("d.raw")));
        qcow2.Write(3UL * Block + 100, [1]);
        qcow2.WriteZeroes(5UL * Block, Block, mayUnmap: false);
        Assert.True(qcow2.KnownZero(0, 3UL * Block));
        Assert.False(qcow2.KnownZero(3UL * Block, Block));
        Assert.False(qcow2.KnownZero(2UL * Block, 2UL * Block));
        Assert.True(qcow2.KnownZero(5UL * Block, Block));
        Assert.True(qcow2.KnownZero(63UL * Block, Block));
        Assert.False(raw.KnownZero(0, Block));
    }

    [Fact]
    public void A_failed_write_is_marked_all_the_same()
    {
        using var dir = new ScratchDir();
        string path = dir.File("d.raw");
        DiskImages.Create(path, DiskImages.Raw, 4UL * Block);
        using var disk = new DirtyTrackingDiskImage(DiskImages.Open(path, new DiskOpenOptions(ReadOnly: true, Format: DiskImages.Raw)));
        DiskDirtyBitmap map = disk.StartTracking(Block);
        Assert.ThrowsAny<Exception>(() => disk.Write(2UL * Block, new byte[512]));
        var taken = new ulong[map.Words];
        map.Take(taken);
        // Part of it may have reached the image: the copier reads the block again rather than miss it.
        Assert.Equal([2UL], Blocks(taken));
    }
}
