using System.Buffers.Binary;
using System.Text;
using Trapeze.Devices.Fdt;

namespace Trapeze.Devices.Tests;

public sealed class FdtBuilderTests
{
    private static byte[] Sample()
    {
        var fdt = new FdtBuilder { BootCpuId = 1 };
        fdt.AddMemoryReservation(0x8000_0000, 0x20_0000);
        fdt.PropertyU32("#address-cells", 2);
        fdt.PropertyU32("#size-cells", 2);
        fdt.PropertyString("compatible", "test,board");
        fdt.BeginNode("node@1000");
        fdt.PropertyStringList("compatible", "a,b", "c");
        fdt.PropertyCells("reg", 0x1000, 0x100);
        fdt.PropertyU32Array("interrupts-extended", 1, 11, 1, 9);
        fdt.PropertyU64("linux,initrd-start", 0x1_2345_6789);
        fdt.PropertyEmpty("interrupt-controller");
        fdt.Property("raw", new byte[] { 1, 2, 3 });
        fdt.BeginNode("child");
        fdt.PropertyU32("phandle", fdt.AllocatePhandle());
        fdt.EndNode();
        fdt.EndNode();
        fdt.BeginNode("/late");
        fdt.PropertyString("status", "okay");
        fdt.EndNode();
        return fdt.Build();
    }

    [Fact]
    public void Header_follows_the_spec()
    {
        byte[] blob = Sample();
        uint U32(int at) => BinaryPrimitives.ReadUInt32BigEndian(blob.AsSpan(at));
        Assert.Equal(0xd00dfeedu, U32(0));
        Assert.Equal((uint)blob.Length, U32(4));
        Assert.Equal(17u, U32(20));
        Assert.Equal(16u, U32(24));
        Assert.Equal(1u, U32(28));
        Assert.Equal(0u, U32(8) & 3);   // structure block 4-aligned
        Assert.Equal(0u, U32(16) & 7);  // reservation block 8-aligned
        Assert.Equal(0, blob.Length & 3);
        Assert.Equal(U32(12), U32(8) + U32(36)); // strings right after the structure
        Assert.True(U32(12) + U32(32) <= (uint)blob.Length);
    }

    [Fact]
    public void Round_trips_through_the_reader()
    {
        FdtTree tree = FdtReader.Parse(Sample());
        Assert.Equal(17u, tree.Version);
        Assert.Equal(16u, tree.LastCompatibleVersion);
        Assert.Equal(1u, tree.BootCpuId);
        Assert.Equal([(0x8000_0000ul, 0x20_0000ul)], tree.MemoryReservations);
        FdtNode root = tree.Root;
        Assert.Equal("", root.Name);
        Assert.Equal(2u, root.Property("#address-cells")!.AsU32());
        Assert.Equal("test,board", root.Property("compatible")!.AsString());

        FdtNode node = root.Find("/node@1000")!;
        Assert.Equal(["a,b", "c"], node.Property("compatible")!.AsStringList());
        Assert.Equal([0u, 0x1000u, 0u, 0x100u], node.Property("reg")!.AsU32Array());
        Assert.Equal([1u, 11u, 1u, 9u], node.Property("interrupts-extended")!.AsU32Array());
        Assert.Equal(0x1_2345_6789ul, node.Property("linux,initrd-start")!.AsU64());
        Assert.Empty(node.Property("interrupt-controller")!.Value);
        Assert.Equal(new byte[] { 1, 2, 3 }, node.Property("raw")!.Value);
        Assert.Equal(1u, root.Find("/node@1000/child")!.Property("phandle")!.AsU32());
        Assert.Equal("okay", root.Find("/late")!.Property("status")!.AsString());
        Assert.Equal(["node@1000", "late"], root.Children.Select(c => c.Name));
    }

    [Fact]
    public void Property_names_are_stored_once_in_the_strings_block()
    {
        byte[] blob = Sample();
        int stringsOffset = (int)BinaryPrimitives.ReadUInt32BigEndian(blob.AsSpan(12));
        int stringsSize = (int)BinaryPrimitives.ReadUInt32BigEndian(blob.AsSpan(32));
        string[] names = Encoding.ASCII.GetString(blob, stringsOffset, stringsSize).TrimEnd('\0').Split('\0');
        Assert.Equal(names.Length, names.Distinct().Count());
        Assert.Contains("compatible", names);
        Assert.Single(names, n => n == "compatible");
    }

    [Fact]
    public void Values_are_padded_to_four_bytes()
    {
        var fdt = new FdtBuilder();
        fdt.Property("a", new byte[] { 0xaa });
        fdt.PropertyU32("b", 0x11223344);
        FdtTree tree = FdtReader.Parse(fdt.Build());
        Assert.Equal(new byte[] { 0xaa }, tree.Root.Property("a")!.Value);
        Assert.Equal(0x11223344u, tree.Root.Property("b")!.AsU32());
    }

    [Fact]
    public void Phandles_are_allocated_from_one()
    {
        var fdt = new FdtBuilder();
        Assert.Equal(1u, fdt.AllocatePhandle());
        Assert.Equal(2u, fdt.AllocatePhandle());
    }

    [Fact]
    public void Misuse_is_refused()
    {
        var fdt = new FdtBuilder();
        Assert.Throws<InvalidOperationException>(() => fdt.EndNode());
        fdt.BeginNode("a");
        Assert.Throws<InvalidOperationException>(() => fdt.Build()); // still open
        fdt.PropertyU32("x", 1);
        Assert.Throws<InvalidOperationException>(() => fdt.PropertyU32("x", 2));
        fdt.EndNode();
        Assert.Throws<InvalidOperationException>(() => fdt.BeginNode("a"));
        Assert.Throws<InvalidOperationException>(() => fdt.BeginNode("/missing/child"));
        Assert.Throws<ArgumentException>(() => fdt.BeginNode("bad name"));
        Assert.Throws<ArgumentException>(() => fdt.BeginNode(""));
        Assert.Throws<ArgumentException>(() => fdt.BeginNode(new string('n', 32)));
        Assert.Throws<ArgumentException>(() => fdt.PropertyU32("bad name", 1));
        Assert.Throws<ArgumentException>(() => fdt.PropertyString("s", "a\0b"));
        fdt.BeginNode("/a/b@0");
        fdt.EndNode();
        Assert.NotNull(FdtReader.Parse(fdt.Build()).Root.Find("/a/b@0"));
    }

    [Fact]
    public void Reader_rejects_malformed_blobs_with_format_errors_only()
    {
        byte[] good = Sample();
        Assert.Throws<FormatException>(() => FdtReader.Parse(good.AsSpan(0, 20)));
        byte[] badMagic = (byte[])good.Clone();
        badMagic[0] ^= 0xff;
        Assert.Throws<FormatException>(() => FdtReader.Parse(badMagic));
        Assert.Throws<FormatException>(() => FdtReader.Parse(good.AsSpan(0, good.Length - 8)));

        var random = new Random(1234);
        for (int i = 0; i < 5000; i++)
        {
            byte[] corrupt = (byte[])good.Clone();
            int flips = random.Next(1, 4);
            for (int f = 0; f < flips; f++) corrupt[random.Next(corrupt.Length)] = (byte)random.Next(256);
            try
            {
                FdtReader.Parse(corrupt);
            }
            catch (FormatException)
            {
            }
        }
    }

    [RequiresToolFact("dtc")]
    public void Dtc_accepts_the_blob()
    {
        string path = Path.Combine(Path.GetTempPath(), $"trapeze-fdt-{Guid.NewGuid():N}.dtb");
        try
        {
            File.WriteAllBytes(path, Sample());
            var (exit, stdout, stderr) = ExternalTools.Run("dtc", TimeSpan.FromSeconds(30), "-I", "dtb", "-O", "dts", path);
            Assert.True(exit == 0, stderr);
            Assert.Contains("/memreserve/\t0x0000000080000000 0x0000000000200000;", stdout);
            Assert.Contains("compatible = \"a,b\\0c\";", stdout);
            Assert.Contains("late {", stdout);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
