using System.Buffers.Binary;
using System.Text;
using Trapeze.Devices.Storage;

namespace Trapeze.Vmm.Tests;

/// <summary>What goes ahead of a live migration: the bundle's vm.json and boot files, what the source refuses to
/// move, and what the destination refuses to write.</summary>
public sealed class BundleTransferTests : IDisposable
{
    private readonly TempHome _t = new();

    public void Dispose() => _t.Dispose();

    [Fact]
    public void The_definition_and_boot_files_arrive_under_the_destination_name()
    {
        _t.Manager.Execute(new VmAction.Create(_t.Request("src") with { Cpus = 2 }));
        VmBundle source = _t.Home.Open("src");
        IReadOnlyList<(string Name, string Path)> files = BundleTransfer.CheckMovable(source);
        Assert.Equal(["kernel", "initrd"], files.Select(f => f.Name));

        using var duplex = new DuplexPair();
        var sending = OnThread(() => BundleTransfer.Send(duplex.A, source, files, paused: true));
        string dir = Path.Combine(_t.Root, "dst");
        Directory.CreateDirectory(dir);
        VmBundle arrived = BundleTransfer.Receive(duplex.B, dir, "dst", out bool paused);
        BundleTransfer.Reply(duplex.B, null);
        Assert.Null(sending());

        Assert.True(paused);
        Assert.Equal("dst", arrived.Name);
        Assert.Equal(2, arrived.Definition.Cpus);
        Assert.Equal([1, 2, 3, 4], File.ReadAllBytes(Path.Combine(dir, "kernel")));
        Assert.Equal([5, 6, 7], File.ReadAllBytes(Path.Combine(dir, "initrd")));
        Assert.Equal(Path.Combine(dir, "kernel"), arrived.ToMachineConfig().KernelPath);
    }

    [Fact]
    public void A_refusal_reaches_the_source_as_one_message()
    {
        _t.Manager.Execute(new VmAction.Create(_t.Request("src")));
        VmBundle source = _t.Home.Open("src");
        using var duplex = new DuplexPair();
        var sending = OnThread(() => BundleTransfer.Send(duplex.A, source, BundleTransfer.CheckMovable(source)));
        string dir = Path.Combine(_t.Root, "dst");
        Directory.CreateDirectory(dir);
        BundleTransfer.Receive(duplex.B, dir, "dst", out bool paused);
        Assert.False(paused);
        BundleTransfer.Reply(duplex.B, "cannot open disk");
        var e = Assert.IsType<VmException>(sending());
        Assert.Equal("the destination refused: cannot open disk", e.Message);
    }

    [Fact]
    public void Writable_disks_move_only_from_inside_the_bundle()
    {
        _t.Manager.Execute(new VmAction.Create(_t.Request("disk") with { Disks = [new VmDiskRequest(Size: 1 << 20)] }));
        Assert.Equal(2, BundleTransfer.CheckMovable(_t.Home.Open("disk")).Count);

        string shared = Path.Combine(_t.Root, "shared.raw");
        File.WriteAllBytes(shared, new byte[4096]);
        _t.Manager.Execute(new VmAction.Create(_t.Request("rw") with { Disks = [new VmDiskRequest(Path: shared, Format: "raw")] }));
        var e = Assert.Throws<VmException>(() => BundleTransfer.CheckMovable(_t.Home.Open("rw")));
        Assert.Contains("drive 'vda' is a writable image outside the bundle", e.Message);

        _t.Manager.Execute(new VmAction.Create(_t.Request("ro") with { Disks = [new VmDiskRequest(Path: shared, Format: "raw", ReadOnly: true)] }));
        Assert.Equal(2, BundleTransfer.CheckMovable(_t.Home.Open("ro")).Count);

        _t.Manager.Execute(new VmAction.Create(_t.Request("roin") with { Disks = [new VmDiskRequest(Size: 1 << 20, ReadOnly: true)] }));
        e = Assert.Throws<VmException>(() => BundleTransfer.CheckMovable(_t.Home.Open("roin")));
        Assert.Contains("drive 'vda' is a read-only image inside the bundle", e.Message);
    }

    [Fact]
    public void A_described_disk_is_created_empty_in_the_destination_bundle()
    {
        _t.Manager.Execute(new VmAction.Create(_t.Request("src") with { Disks = [new VmDiskRequest(Size: 4 << 20)] }));
        VmBundle source = _t.Home.Open("src");
        using var duplex = new DuplexPair();
        var sending = OnThread(() => BundleTransfer.Send(duplex.A, source, BundleTransfer.CheckMovable(source), disks: [new("vda", "qcow2", 4 << 20)]));
        string dir = Path.Combine(_t.Root, "dst");
        Directory.CreateDirectory(dir);
        VmBundle arrived = BundleTransfer.Receive(duplex.B, dir, "dst", out _);
        BundleTransfer.Reply(duplex.B, null);
        Assert.Null(sending());
        DiskImageInfo info = DiskImages.Info(Path.Combine(dir, "vda.qcow2"));
        Assert.Equal(("qcow2", 4UL << 20), (info.Format, info.VirtualSize));
        Assert.True(info.FileSize < 1 << 20, "a new qcow2 image is sparse");
        Assert.Equal(Path.Combine(dir, "vda.qcow2"), arrived.ToMachineConfig().Disks[0].Path);
    }

    [Theory]
    [InlineData("vdb", "qcow2", 1UL << 20, "not a writable drive in the bundle")]
    [InlineData("vda", "raw", 1UL << 20, "format 'raw'")]
    [InlineData("vda", "vmdk", 1UL << 20, "format 'vmdk'")]
    [InlineData("vda", "qcow2", 1000UL, "not a positive multiple of 512")]
    [InlineData("vda", "qcow2", 1UL << 50, "not a positive multiple of 512")]
    [InlineData(null, null, 0UL, "writable drive 'vda' was not described")]
    public void A_bad_disk_description_is_refused(string? id, string? format, ulong size, string refusal)
    {
        _t.Manager.Execute(new VmAction.Create(_t.Request("src") with { Disks = [new VmDiskRequest(Size: 1 << 20)] }));
        VmBundle source = _t.Home.Open("src");
        using var duplex = new DuplexPair();
        IReadOnlyList<BundleTransfer.MigratedDisk> disks = id == null ? [] : [new(id, format!, size)];
        var sending = OnThread(() => BundleTransfer.Send(duplex.A, source, BundleTransfer.CheckMovable(source), disks: disks));
        string dir = Path.Combine(_t.Root, "dst");
        Directory.CreateDirectory(dir);
        var e = Assert.Throws<VmException>(() => BundleTransfer.Receive(duplex.B, dir, "dst", out _));
        Assert.Contains(refusal, e.Message);
        BundleTransfer.Reply(duplex.B, e.Message);
        Assert.IsType<VmException>(sending());
    }

    [Fact]
    public void A_boot_file_named_outside_the_bundle_is_refused()
    {
        using var ms = new MemoryStream();
        WriteU64(ms, BundleTransfer.Magic);
        WriteU32(ms, BundleTransfer.Version);
        WriteBytes(ms, Encoding.UTF8.GetBytes("""{"version": 1, "name": "x", "memory_mib": 64}"""));
        WriteU32(ms, 0);
        WriteU32(ms, 1);
        WriteBytes(ms, Encoding.UTF8.GetBytes("../evil"));
        ms.Position = 0;
        string dir = Path.Combine(_t.Root, "dst");
        Directory.CreateDirectory(dir);
        var e = Assert.Throws<VmException>(() => BundleTransfer.Receive(ms, dir, "dst", out _));
        Assert.Contains("'../evil' is not allowed", e.Message);
        Assert.False(File.Exists(Path.Combine(_t.Root, "evil")));
    }

    [Theory]
    [InlineData("127.0.0.1:7000", "127.0.0.1", 7000)]
    [InlineData("host.example:1", "host.example", 1)]
    [InlineData("[::1]:65535", "::1", 65535)]
    public void Addresses_parse(string text, string host, int port) =>
        Assert.Equal((host, port), BundleTransfer.ParseAddress(text, "destination"));

    [Theory]
    [InlineData("7000")]
    [InlineData(":7000")]
    [InlineData("host:")]
    [InlineData("host:0")]
    [InlineData("host:65536")]
    [InlineData("host:-1")]
    public void Bad_addresses_are_refused(string text) =>
        Assert.Throws<VmException>(() => BundleTransfer.ParseAddress(text, "destination"));

    /// <summary>Runs <paramref name="work"/> on a thread of its own; the result joins it and gives what it threw.</summary>
    private static Func<Exception?> OnThread(Action work)
    {
        Exception? thrown = null;
        var thread = new Thread(() =>
        {
            try { work(); }
            catch (Exception e) { thrown = e; }
        });
        thread.Start();
        return () =>
        {
            thread.Join();
            return thrown;
        };
    }

    private static void WriteU32(Stream s, uint v)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        s.Write(b);
    }

    private static void WriteU64(Stream s, ulong v)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, v);
        s.Write(b);
    }

    private static void WriteBytes(Stream s, byte[] data)
    {
        WriteU32(s, (uint)data.Length);
        s.Write(data);
    }

    /// <summary>Two connected ends of a loopback TCP connection.</summary>
    private sealed class DuplexPair : IDisposable
    {
        private readonly System.Net.Sockets.TcpClient _a, _b;

        public DuplexPair()
        {
            using var l = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
            l.Start();
            _a = new System.Net.Sockets.TcpClient();
            _a.Connect((System.Net.IPEndPoint)l.LocalEndpoint);
            _b = l.AcceptTcpClient();
            A = _a.GetStream();
            B = _b.GetStream();
        }

        public Stream A { get; }
        public Stream B { get; }

        public void Dispose()
        {
            _a.Dispose();
            _b.Dispose();
        }
    }
}
