using Trapeze.Devices.Storage;
using static Trapeze.Devices.Tests.Storage.StorageTestSupport;

namespace Trapeze.Devices.Tests.Storage;

/// <summary>Images that are broken or built to hurt: refused at open with one clear line, or failing
/// later with an I/O error — never another exception, never outside data.</summary>
public sealed class Qcow2HostileImageTests
{
    private static string NewImage(ScratchDir dir, ulong size = 1 << 20, int clusterSize = 65536, string name = "a.qcow2")
    {
        string path = dir.File(name);
        Qcow2Image.Create(path, size, clusterSize);
        return path;
    }

    private static DiskImageException Refused(string path, bool readOnly = false, bool allowExternal = false) =>
        Assert.Throws<DiskImageException>(() =>
            Qcow2Image.Open(path, new Qcow2OpenOptions { ReadOnly = readOnly, AllowExternalBacking = allowExternal }).Dispose());

    [Fact]
    public void Unknown_incompatible_features_are_refused_by_name()
    {
        using var dir = new ScratchDir();
        string path = NewImage(dir);
        Patch64(path, Qcow2Image.HdrIncompatible, 1UL << 9);
        // A feature name table naming bit 9.
        byte[] ext = new byte[8 + 48];
        ext[3] = 0x57; ext[2] = 0xf8; ext[1] = 0x03; ext[0] = 0x68;
        ext[7] = 48;
        ext[8] = 0; ext[9] = 9;
        "time-travel"u8.CopyTo(ext.AsSpan(10));
        Patch(path, Qcow2Image.V3HeaderLength, ext);
        var e = Refused(path, readOnly: true);
        Assert.Contains("'time-travel' (bit 9)", e.Message);
    }

    [Theory]
    [InlineData(Qcow2Image.IncompatExternalData, "external data file")]
    [InlineData(Qcow2Image.IncompatExtendedL2, "extended L2")]
    [InlineData(Qcow2Image.IncompatCompressionType, "compression type")]
    public void Known_but_unsupported_incompatible_features_are_refused(ulong bit, string words)
    {
        using var dir = new ScratchDir();
        string path = NewImage(dir);
        Patch64(path, Qcow2Image.HdrIncompatible, bit);
        Assert.Contains(words, Refused(path, readOnly: true).Message);
    }

    [Fact]
    public void Zstd_compression_is_refused()
    {
        using var dir = new ScratchDir();
        string path = NewImage(dir);
        Patch64(path, Qcow2Image.HdrIncompatible, Qcow2Image.IncompatCompressionType);
        Patch(path, Qcow2Image.HdrCompressionType, [1]);
        Assert.Contains("zstd", Refused(path, readOnly: true).Message);
    }

    [Theory]
    [InlineData(Qcow2Image.IncompatDirty, "not closed cleanly")]
    [InlineData(Qcow2Image.IncompatCorrupt, "marked corrupt")]
    public void Dirty_and_corrupt_images_open_only_read_only(ulong bit, string words)
    {
        using var dir = new ScratchDir();
        string path = NewImage(dir);
        Patch64(path, Qcow2Image.HdrIncompatible, bit);
        var e = Refused(path);
        Assert.Contains(words, e.Message);
        Assert.Contains("qemu-img check -r all", e.Message);
        using var image = Qcow2Image.Open(path, new Qcow2OpenOptions { ReadOnly = true });
        Assert.Equal(bit == Qcow2Image.IncompatDirty, image.Dirty);
        Assert.Equal(bit == Qcow2Image.IncompatCorrupt, image.Corrupt);
        Assert.All(ReadAll(image), b => Assert.Equal(0, b));
    }

    [Fact]
    public void Encryption_is_refused()
    {
        using var dir = new ScratchDir();
        string path = NewImage(dir);
        Patch32(path, Qcow2Image.HdrCryptMethod, 2);
        Assert.Contains("encrypted", Refused(path, readOnly: true).Message);
    }

    [Fact]
    public void Refcount_widths_other_than_16_bits_are_read_only()
    {
        using var dir = new ScratchDir();
        string path = NewImage(dir);
        Patch32(path, Qcow2Image.HdrRefcountOrder, 5);
        Assert.Contains("32-bit refcounts", Refused(path).Message);
        Qcow2Image.Open(path, new Qcow2OpenOptions { ReadOnly = true }).Dispose();
        Patch32(path, Qcow2Image.HdrRefcountOrder, 7);
        Assert.Contains("refcount order 7", Refused(path, readOnly: true).Message);
    }

    [Fact]
    public void Internal_snapshots_make_an_image_read_only()
    {
        using var dir = new ScratchDir();
        string path = NewImage(dir);
        Patch32(path, Qcow2Image.HdrSnapshotCount, 1);
        Patch64(path, Qcow2Image.HdrSnapshotsOffset, 65536);
        Assert.Contains("snapshot", Refused(path).Message);
        Qcow2Image.Open(path, new Qcow2OpenOptions { ReadOnly = true }).Dispose();
    }

    [Theory]
    [InlineData(Qcow2Image.HdrClusterBits, 4, 8UL, "cluster size")]
    [InlineData(Qcow2Image.HdrClusterBits, 4, 22UL, "cluster size")]
    [InlineData(Qcow2Image.HdrVersion, 4, 4UL, "version 4")]
    [InlineData(Qcow2Image.HdrHeaderLength, 4, 100UL, "header length")]
    [InlineData(Qcow2Image.HdrHeaderLength, 4, 106UL, "header length")]
    [InlineData(Qcow2Image.HdrHeaderLength, 4, 1UL << 20, "header length")]
    [InlineData(Qcow2Image.HdrL1Size, 4, 0UL, "too small")]
    [InlineData(Qcow2Image.HdrL1Size, 4, 0xffff_ffffUL, "too large")]
    [InlineData(Qcow2Image.HdrL1Size, 4, 100_000UL, "past the end")]
    [InlineData(Qcow2Image.HdrL1Offset, 8, 12345UL, "cluster boundary")]
    [InlineData(Qcow2Image.HdrL1Offset, 8, 0UL, "cluster boundary")]
    [InlineData(Qcow2Image.HdrL1Offset, 8, 1UL << 62, "past the end")]
    [InlineData(Qcow2Image.HdrL1Offset, 8, ulong.MaxValue - 65535, "past the end")]
    [InlineData(Qcow2Image.HdrRefcountTableOffset, 8, 1UL << 40, "past the end")]
    [InlineData(Qcow2Image.HdrRefcountTableClusters, 4, 0UL, "no refcount table")]
    [InlineData(Qcow2Image.HdrRefcountTableClusters, 4, 0x8000_0000UL, "too large")]
    [InlineData(Qcow2Image.HdrSize, 8, ulong.MaxValue, "too small")]
    [InlineData(Qcow2Image.HdrBackingOffset, 8, 200UL, "backing file name")]
    public void Out_of_range_header_fields_are_refused(int field, int width, ulong value, string words)
    {
        using var dir = new ScratchDir();
        string path = NewImage(dir);
        if (field == Qcow2Image.HdrBackingOffset) Patch32(path, Qcow2Image.HdrBackingSize, 5000);
        if (width == 4) Patch32(path, field, (uint)value);
        else Patch64(path, field, value);
        Assert.Contains(words, Refused(path, readOnly: true).Message);
    }

    [Fact]
    public void Header_extensions_running_past_the_cluster_are_refused()
    {
        using var dir = new ScratchDir();
        string path = NewImage(dir);
        Patch32(path, Qcow2Image.V3HeaderLength, 0x12345678);
        Patch32(path, Qcow2Image.V3HeaderLength + 4, 65536);
        Assert.Contains("header extension", Refused(path, readOnly: true).Message);
    }

    [Fact]
    public void Files_that_are_not_qcow2_are_refused()
    {
        using var dir = new ScratchDir();
        File.WriteAllBytes(dir.File("short"), [0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]);
        Assert.Contains("not a qcow2 image", Refused(dir.File("short"), readOnly: true).Message);
        File.WriteAllBytes(dir.File("zero"), new byte[4096]);
        Assert.Contains("not a qcow2 image", Refused(dir.File("zero"), readOnly: true).Message);
        Assert.Contains("does not exist", Refused(dir.File("missing"), readOnly: true).Message);
        Assert.Contains("is a directory", Refused(dir.Path, readOnly: true).Message);
    }

    [Fact]
    public void Backing_files_outside_the_image_directory_are_not_opened()
    {
        using var dir = new ScratchDir();
        using var other = new ScratchDir();
        File.WriteAllBytes(other.File("secret"), Enumerable.Repeat((byte)'S', 4096).ToArray());
        Directory.CreateDirectory(dir.File("vm"));
        Qcow2Image.Create(dir.File("vm/abs.qcow2"), 1 << 20, 65536, other.File("secret"), "raw");
        Qcow2Image.Create(dir.File("vm/rel.qcow2"), 1 << 20, 65536, "../../" + Path.GetFileName(other.Path) + "/secret", "raw");
        Qcow2Image.Create(dir.File("vm/shadow.qcow2"), 1 << 20, 65536, "/etc/shadow", "raw");
        foreach (string name in new[] { "abs", "rel", "shadow" })
            Assert.Contains("outside the image's directory", Refused(dir.File($"vm/{name}.qcow2"), readOnly: true).Message);

        // Through a symbolic link inside the directory: still outside.
        File.CreateSymbolicLink(dir.File("vm/link"), other.File("secret"));
        Qcow2Image.Create(dir.File("vm/link.qcow2"), 1 << 20, 65536, "link", "raw");
        Assert.Contains("through a link", Refused(dir.File("vm/link.qcow2"), readOnly: true).Message);

        // Explicitly allowed: it works.
        using var allowed = Qcow2Image.Open(dir.File("vm/abs.qcow2"), new Qcow2OpenOptions { ReadOnly = true, AllowExternalBacking = true });
        byte[] head = new byte[4];
        allowed.Read(0, head);
        Assert.Equal("SSSS"u8.ToArray(), head);
    }

    [Fact]
    public void Backing_loops_and_self_references_are_refused()
    {
        using var dir = new ScratchDir();
        Qcow2Image.Create(dir.File("self.qcow2"), 1 << 20, 65536, "self.qcow2", "qcow2");
        Assert.Contains("itself", Refused(dir.File("self.qcow2"), readOnly: true).Message);
        Qcow2Image.Create(dir.File("a.qcow2"), 1 << 20, 65536, "b.qcow2", "qcow2");
        Qcow2Image.Create(dir.File("b.qcow2"), 1 << 20, 65536, "a.qcow2", "qcow2");
        Assert.Contains("deeper than", Refused(dir.File("a.qcow2"), readOnly: true).Message);
        Qcow2Image.Create(dir.File("c.qcow2"), 1 << 20, 65536, "missing.raw", "raw");
        Assert.Contains("does not exist", Refused(dir.File("c.qcow2"), readOnly: true).Message);
        Qcow2Image.Create(dir.File("d.qcow2"), 1 << 20, 65536, "a.qcow2", "vmdk");
        Assert.Contains("'vmdk' is not supported", Refused(dir.File("d.qcow2"), readOnly: true).Message);
    }

    [Fact]
    public void Mapping_a_data_cluster_onto_metadata_is_caught_and_marks_the_image_corrupt()
    {
        using var dir = new ScratchDir();
        string path = NewImage(dir);
        using (var image = Qcow2Image.Open(path)) image.Write(0, [1]);
        ulong l1 = Read64(path, Qcow2Image.HdrL1Offset);
        var (entryAt, _) = L2Entry(path, 65536);
        Patch64(path, entryAt, l1 | Qcow2Image.FlagCopied); // guest cluster 1 "is" the L1 table
        using (var image = Qcow2Image.Open(path))
        {
            var e = Assert.Throws<IOException>(() => image.Write(65536, [0xff]));
            Assert.Contains("overlaps metadata", e.Message);
            Assert.Throws<IOException>(() => image.Write(0, [2])); // read-only from now on
        }
        Assert.Equal(Qcow2Image.IncompatCorrupt, Read64(path, Qcow2Image.HdrIncompatible));
        Assert.Contains("marked corrupt", Refused(path).Message);
    }

    [Fact]
    public void Invalid_table_entries_are_io_errors_when_reached()
    {
        using var dir = new ScratchDir();
        string path = NewImage(dir);
        using (var image = Qcow2Image.Open(path)) image.Write(0, [1]);
        var (entryAt, entry) = L2Entry(path, 0);
        Patch64(path, entryAt, entry | 0x100); // a reserved bit
        using (var image = Qcow2Image.Open(path, new Qcow2OpenOptions { ReadOnly = true }))
            Assert.Throws<IOException>(() => image.Read(0, new byte[1]));
        Patch64(path, entryAt, Qcow2Image.FlagCompressed | 5); // compressed data inside the header
        using (var image = Qcow2Image.Open(path, new Qcow2OpenOptions { ReadOnly = true }))
            Assert.Throws<IOException>(() => image.Read(0, new byte[1]));
        Patch64(path, entryAt, Qcow2Image.FlagCompressed | 70000); // not deflate data
        using (var image = Qcow2Image.Open(path, new Qcow2OpenOptions { ReadOnly = true }))
            Assert.Throws<IOException>(() => image.Read(0, new byte[1]));
        ulong l1 = Read64(path, Qcow2Image.HdrL1Offset);
        Patch64(path, (long)l1, 1UL << 50); // an L2 table far past the end of the file
        using (var image = Qcow2Image.Open(path, new Qcow2OpenOptions { ReadOnly = true }))
            Assert.Throws<IOException>(() => image.Read(0, new byte[1]));
        Assert.Contains("L1 entry 0", Refused(path).Message); // and a writer refuses it up front
    }

    [Fact]
    public void Probed_raw_images_refuse_a_qcow2_signature_in_sector_zero()
    {
        using var dir = new ScratchDir();
        string path = dir.File("disk.raw");
        File.WriteAllBytes(path, new byte[1 << 20]);
        using (var probed = DiskImages.Open(path))
        {
            Assert.Throws<IOException>(() => probed.Write(0, Qcow2Image.Magic));
            probed.Write(0, "QF"u8);
            Assert.Throws<IOException>(() => probed.Write(2, [0x49, 0xfb])); // pieced together
            probed.Write(512, Qcow2Image.Magic); // elsewhere is fine
        }
        using (var named = DiskImages.Open(path, new DiskOpenOptions(Format: "raw"))) named.Write(0, Qcow2Image.Magic);
        Assert.Equal("qcow2", DiskImages.Detect(path));
    }
}
