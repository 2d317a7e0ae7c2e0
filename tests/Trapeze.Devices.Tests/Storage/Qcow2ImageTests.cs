using System.IO.Compression;
using Trapeze.Devices.Storage;
using static Trapeze.Devices.Tests.Storage.StorageTestSupport;

namespace Trapeze.Devices.Tests.Storage;

public sealed class Qcow2ImageTests
{
    private static Qcow2Image OpenRw(string path) => Qcow2Image.Open(path, new Qcow2OpenOptions());

    [Fact]
    public void New_image_reads_as_zeroes_and_reports_its_geometry()
    {
        using var dir = new ScratchDir();
        string path = dir.File("a.qcow2");
        Qcow2Image.Create(path, 10 << 20);
        using var image = Qcow2Image.Open(path, new Qcow2OpenOptions { ReadOnly = true });
        Assert.Equal(10UL << 20, image.Length);
        Assert.Equal(65536, image.ClusterSize);
        Assert.Equal(3, image.Version);
        Assert.Equal(16, image.RefcountBits);
        Assert.Null(image.BackingFileName);
        Assert.False(image.Dirty);
        Assert.All(ReadAll(image), b => Assert.Equal(0, b));
    }

    [Theory]
    [InlineData(512)]
    [InlineData(4096)]
    [InlineData(65536)]
    [InlineData(2 << 20)]
    public void Writes_read_back_across_cluster_boundaries_and_after_reopening(int clusterSize)
    {
        using var dir = new ScratchDir();
        string path = dir.File("a.qcow2");
        Qcow2Image.Create(path, 8 << 20, clusterSize);
        byte[] model = new byte[8 << 20];
        byte[] data = Pattern(3 * clusterSize + 777, clusterSize);
        using (var image = OpenRw(path))
        {
            image.Write(12345, data);
            image.Write(0, data.AsSpan(0, 10));
            image.Write((ulong)model.Length - 100, data.AsSpan(0, 100));
        }
        data.CopyTo(model, 12345);
        data.AsSpan(0, 10).CopyTo(model);
        data.AsSpan(0, 100).CopyTo(model.AsSpan(model.Length - 100));
        using var reopened = Qcow2Image.Open(path, new Qcow2OpenOptions { ReadOnly = true });
        Assert.True(ReadAll(reopened).AsSpan().SequenceEqual(model));
    }

    [Theory]
    [InlineData(512, 1)]
    [InlineData(4096, 2)]
    [InlineData(65536, 3)]
    public void Random_writes_zeroes_and_discards_match_a_plain_array(int clusterSize, int seed)
    {
        using var dir = new ScratchDir();
        string path = dir.File("a.qcow2");
        Qcow2Image.Create(path, 2 << 20, clusterSize);
        RandomOperations(path, new byte[2 << 20], seed, 300, 3 * clusterSize, () => OpenRw(path));
    }

    [Fact]
    public void Refcount_table_grows_when_the_file_outgrows_it()
    {
        // 512-byte clusters: a refcount block covers 128 KiB and the first table 8 MiB of file.
        using var dir = new ScratchDir();
        string path = dir.File("a.qcow2");
        Qcow2Image.Create(path, 24 << 20, 512);
        ulong tableBefore = Read64(path, Qcow2Image.HdrRefcountTableOffset);
        byte[] data = Pattern(9 << 20, 7);
        using (var image = OpenRw(path)) image.Write(0, data);
        Assert.NotEqual(tableBefore, Read64(path, Qcow2Image.HdrRefcountTableOffset));
        using var reopened = OpenRw(path);
        byte[] back = new byte[data.Length];
        reopened.Read(0, back);
        Assert.True(back.AsSpan().SequenceEqual(data));
        reopened.Write(20 << 20, data.AsSpan(0, 4096)); // and it still allocates
    }

    [Fact]
    public void Write_zeroes_without_unmap_keeps_the_cluster_with_the_zero_flag()
    {
        using var dir = new ScratchDir();
        string path = dir.File("a.qcow2");
        Qcow2Image.Create(path, 1 << 20);
        using (var image = OpenRw(path))
        {
            image.Write(0, Pattern(65536, 1));
            image.WriteZeroes(0, 65536, mayUnmap: false);
        }
        ulong entry = L2Entry(path, 0).Entry;
        Assert.Equal(1UL, entry & Qcow2Image.FlagZero);
        Assert.NotEqual(0UL, entry & Qcow2Image.OffsetMask);
        using (var image = OpenRw(path))
        {
            Assert.All(ReadAll(image), b => Assert.Equal(0, b));
            image.Write(100, [1, 2, 3]); // a preallocated zero cluster is written in place
        }
        ulong after = L2Entry(path, 0).Entry;
        Assert.Equal(entry & Qcow2Image.OffsetMask, after & Qcow2Image.OffsetMask);
        Assert.Equal(0UL, after & Qcow2Image.FlagZero);
        using var check = Qcow2Image.Open(path, new Qcow2OpenOptions { ReadOnly = true });
        byte[] head = new byte[104];
        check.Read(0, head);
        Assert.Equal([1, 2, 3], head[100..103]);
        Assert.All(head[..100], b => Assert.Equal(0, b));
    }

    [Fact]
    public void Discarded_clusters_are_reused_so_the_file_does_not_grow()
    {
        using var dir = new ScratchDir();
        string path = dir.File("a.qcow2");
        Qcow2Image.Create(path, 8 << 20);
        byte[] data = Pattern(2 << 20, 3);
        using (var image = OpenRw(path)) image.Write(0, data);
        long size = new FileInfo(path).Length;
        using (var image = OpenRw(path))
        {
            image.Discard(0, 2 << 20);
            image.Flush(); // frees the clusters once the unmapping is durable
            image.Write(4 << 20, data);
            Assert.All(Enumerable.Range(0, 4), i =>
            {
                byte[] chunk = new byte[4096];
                image.Read((ulong)i * 4096, chunk);
                Assert.All(chunk, b => Assert.Equal(0, b));
            });
        }
        Assert.True(new FileInfo(path).Length <= size + 65536 * 2, $"file grew from {size} to {new FileInfo(path).Length}");
    }

    [Fact]
    public void Write_zeroes_with_unmap_releases_storage()
    {
        using var dir = new ScratchDir();
        string path = dir.File("a.qcow2");
        Qcow2Image.Create(path, 4 << 20);
        using (var image = OpenRw(path))
        {
            image.Write(0, Pattern(1 << 20, 4));
            image.WriteZeroes(0, 1 << 20, mayUnmap: true);
        }
        Assert.Equal(0UL, L2Entry(path, 0).Entry & Qcow2Image.OffsetMask);
        using var again = OpenRw(path);
        Assert.All(ReadAll(again), b => Assert.Equal(0, b));
    }

    [Fact]
    public void Partial_cluster_zeroes_and_discard_behave()
    {
        using var dir = new ScratchDir();
        string path = dir.File("a.qcow2");
        Qcow2Image.Create(path, 1 << 20);
        byte[] data = Pattern(65536, 5);
        using var image = OpenRw(path);
        image.Write(0, data);
        image.WriteZeroes(1000, 1000, mayUnmap: true);
        image.Discard(5000, 100); // advisory, less than a cluster: nothing happens
        byte[] back = new byte[65536];
        image.Read(0, back);
        Array.Clear(data, 1000, 1000);
        Assert.True(back.AsSpan().SequenceEqual(data));
    }

    [Fact]
    public void Backing_file_reads_through_and_partial_writes_copy_the_rest_of_the_cluster()
    {
        using var dir = new ScratchDir();
        string basePath = dir.File("base.raw");
        byte[] baseData = Pattern(1 << 20, 9);
        File.WriteAllBytes(basePath, baseData);
        string overlay = dir.File("overlay.qcow2");
        Qcow2Image.Create(overlay, 2 << 20, 65536, "base.raw", "raw");
        using (var image = OpenRw(overlay))
        {
            Assert.Equal("base.raw", image.BackingFileName);
            byte[] all = ReadAll(image);
            Assert.True(all.AsSpan(0, 1 << 20).SequenceEqual(baseData));
            Assert.All(all[(1 << 20)..], b => Assert.Equal(0, b)); // past the backing file: zeroes
            image.Write(70000, [0xee, 0xee]);
            image.WriteZeroes(3 * 65536, 65536, mayUnmap: true); // over backing data: zero flag
            image.Discard(5 * 65536, 65536);
        }
        baseData[70000] = baseData[70001] = 0xee;
        Array.Clear(baseData, 3 * 65536, 65536);
        Array.Clear(baseData, 5 * 65536, 65536);
        using var reopened = OpenRw(overlay);
        Assert.True(ReadAll(reopened).AsSpan(0, 1 << 20).SequenceEqual(baseData));
        Assert.True(File.ReadAllBytes(basePath).AsSpan().SequenceEqual(Pattern(1 << 20, 9)), "the backing file changed");
    }

    [Fact]
    public void Backing_chains_of_qcow2_images_read_through_every_level()
    {
        using var dir = new ScratchDir();
        Qcow2Image.Create(dir.File("a.qcow2"), 1 << 20, 4096);
        using (var a = OpenRw(dir.File("a.qcow2"))) a.Write(0, Enumerable.Repeat((byte)0xaa, 8192).ToArray());
        Qcow2Image.Create(dir.File("b.qcow2"), 1 << 20, 4096, "a.qcow2", "qcow2");
        using (var b = OpenRw(dir.File("b.qcow2"))) b.Write(4096, Enumerable.Repeat((byte)0xbb, 100).ToArray());
        Directory.CreateDirectory(dir.File("sub"));
        Qcow2Image.Create(dir.File("sub/c.qcow2"), 1 << 20, 4096, "../b.qcow2", null); // format probed
        using var c = Qcow2Image.Open(dir.File("sub/c.qcow2"), new Qcow2OpenOptions { ReadOnly = true, AllowExternalBacking = true });
        byte[] head = new byte[8192];
        c.Read(0, head);
        Assert.All(head[..4096], b => Assert.Equal(0xaa, b));
        Assert.All(head[4096..4196], b => Assert.Equal(0xbb, b));
        Assert.All(head[4196..], b => Assert.Equal(0xaa, b));
    }

    [Fact]
    public void Compressed_clusters_are_inflated_and_copied_out_on_write()
    {
        using var dir = new ScratchDir();
        string path = dir.File("a.qcow2");
        Qcow2Image.Create(path, 1 << 20, 4096);
        using (var image = OpenRw(path)) image.Write(0, new byte[] { 1 }); // an L2 table and cluster 0
        byte[] plain = Enumerable.Range(0, 4096).Select(i => (byte)(i / 16)).ToArray();
        var packed = new MemoryStream();
        using (var deflate = new DeflateStream(packed, CompressionLevel.Optimal, leaveOpen: true)) deflate.Write(plain);
        long at = new FileInfo(path).Length + 100; // not even sector aligned
        Patch(path, at, packed.ToArray());
        ulong sectors = (ulong)((at + packed.Length - 1) / 512 - at / 512); // additional sectors
        int shift = 62 - (12 - 8);
        ulong entry = Qcow2Image.FlagCompressed | (sectors << shift) | (ulong)at;
        var (entryAt, _) = L2Entry(path, 4096);
        Patch64(path, entryAt, entry);
        using (var image = Qcow2Image.Open(path, new Qcow2OpenOptions { ReadOnly = true }))
        {
            byte[] back = new byte[4096];
            image.Read(4096, back);
            Assert.True(back.AsSpan().SequenceEqual(plain));
            image.Read(4096 + 1000, back.AsSpan(0, 10));
            Assert.True(back.AsSpan(0, 10).SequenceEqual(plain.AsSpan(1000, 10)));
        }
    }

    [Fact]
    public void Version_2_images_are_read_and_written()
    {
        using var dir = new ScratchDir();
        string path = dir.File("v2.qcow2");
        Qcow2Image.Create(path, 4 << 20, 4096);
        Patch32(path, Qcow2Image.HdrVersion, 2); // the v3 fields become padding before the (empty) extensions
        RandomOperations(path, new byte[4 << 20], 11, 120, 10000, () => OpenRw(path));
        using var image = Qcow2Image.Open(path, new Qcow2OpenOptions { ReadOnly = true });
        Assert.Equal(2, image.Version);
    }

    [Fact]
    public void Growing_keeps_data_grows_the_L1_table_and_reads_zeroes_in_the_new_area()
    {
        using var dir = new ScratchDir();
        string path = dir.File("a.qcow2");
        Qcow2Image.Create(path, 100_000 - 100_000 % 512, 512); // L1: 4 entries
        byte[] data = Pattern(99_000, 2);
        using (var image = OpenRw(path))
        {
            image.Write(0, data);
            image.Grow(64 << 20); // 2048 L1 entries: a new L1 table
            Assert.Equal(64UL << 20, image.Length);
            image.Write((64 << 20) - 512, data.AsSpan(0, 512));
        }
        using var reopened = OpenRw(path);
        Assert.Equal(64UL << 20, reopened.Length);
        byte[] back = new byte[99_000];
        reopened.Read(0, back);
        Assert.True(back.AsSpan().SequenceEqual(data));
        byte[] middle = new byte[1 << 20];
        reopened.Read(1 << 20, middle);
        Assert.All(middle, b => Assert.Equal(0, b));
        byte[] end = new byte[512];
        reopened.Read((64 << 20) - 512, end);
        Assert.True(end.AsSpan().SequenceEqual(data.AsSpan(0, 512)));
        var e = Assert.Throws<DiskImageException>(() => reopened.Grow(1 << 20));
        Assert.Contains("shrinking", e.Message);
    }

    [Fact]
    public void Growing_over_a_longer_backing_file_does_not_show_its_data()
    {
        using var dir = new ScratchDir();
        File.WriteAllBytes(dir.File("base.raw"), Enumerable.Repeat((byte)0x55, 1 << 20).ToArray());
        string path = dir.File("top.qcow2");
        Qcow2Image.Create(path, 256 << 10, 65536, "base.raw", "raw");
        using (var image = OpenRw(path)) image.Grow(2 << 20);
        using var reopened = OpenRw(path);
        byte[] all = ReadAll(reopened);
        Assert.All(all[..(256 << 10)], b => Assert.Equal(0x55, b));
        Assert.All(all[(256 << 10)..], b => Assert.Equal(0, b));
    }

    [Fact]
    public void Reads_past_the_end_are_zeroes_and_writes_past_it_fail()
    {
        using var dir = new ScratchDir();
        string path = dir.File("a.qcow2");
        Qcow2Image.Create(path, 1 << 20);
        using var image = OpenRw(path);
        byte[] buffer = Pattern(100, 1);
        image.Read((1 << 20) - 50, buffer);
        Assert.All(buffer, b => Assert.Equal(0, b));
        Assert.Throws<IOException>(() => image.Write((1 << 20) - 50, buffer));
    }

    [Fact]
    public void Read_only_images_refuse_writes_and_share_the_file()
    {
        using var dir = new ScratchDir();
        string path = dir.File("a.qcow2");
        Qcow2Image.Create(path, 1 << 20);
        using var a = Qcow2Image.Open(path, new Qcow2OpenOptions { ReadOnly = true });
        using var b = Qcow2Image.Open(path, new Qcow2OpenOptions { ReadOnly = true });
        Assert.True(a.ReadOnly);
        Assert.Throws<IOException>(() => a.Write(0, [1]));
        Assert.Throws<IOException>(() => a.Discard(0, 65536));
        var e = Assert.Throws<DiskImageException>(() => OpenRw(path));
        Assert.Contains("cannot be opened for writing", e.Message);
    }

    [Fact]
    public void Many_L2_tables_stay_correct_when_the_cache_evicts_them()
    {
        // 512-byte clusters: an L2 table maps 32 KiB, so 8 MiB needs 256 tables (the cache holds far fewer).
        using var dir = new ScratchDir();
        string path = dir.File("a.qcow2");
        Qcow2Image.Create(path, 8 << 20, 512);
        using var image = OpenRw(path);
        for (int pass = 0; pass < 2; pass++)
            for (ulong off = 0; off < 8 << 20; off += 32 << 10) image.Write(off + (ulong)pass * 512, BitConverter.GetBytes(off + (ulong)pass));
        for (ulong off = 0; off < 8 << 20; off += 32 << 10)
        {
            byte[] b = new byte[8];
            image.Read(off, b);
            Assert.Equal(off, BitConverter.ToUInt64(b));
            image.Read(off + 512, b);
            Assert.Equal(off + 1, BitConverter.ToUInt64(b));
        }
    }

    [Fact]
    public void A_writer_clears_auto_clear_features_it_does_not_maintain()
    {
        // qcow2.txt: an implementation may only write to an image with unknown auto-clear bits after clearing
        // them (bit 0: persistent bitmaps, which our writes would make stale).
        using var dir = new ScratchDir();
        string path = dir.File("a.qcow2");
        Qcow2Image.Create(path, 1 << 20);
        Patch64(path, Qcow2Image.HdrAutoclear, 3);
        using (var image = Qcow2Image.Open(path, new Qcow2OpenOptions { ReadOnly = true })) { }
        Assert.Equal(3UL, Read64(path, Qcow2Image.HdrAutoclear));
        using (var image = OpenRw(path)) { }
        Assert.Equal(0UL, Read64(path, Qcow2Image.HdrAutoclear));
    }
}
