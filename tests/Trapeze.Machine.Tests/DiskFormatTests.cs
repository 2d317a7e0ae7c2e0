using Trapeze.Devices.Storage;

namespace Trapeze.Machine.Tests;

/// <summary>The board's disks: qcow2 named or probed, raw probed with its guard, and one-line refusals.</summary>
public sealed class DiskFormatTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("trapeze-diskfmt-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    private static VirtMachine Machine(params DiskConfig[] disks) =>
        new(new MachineConfig { Firmware = FirmwareKind.None, MemorySize = 16 << 20, Disks = disks }, _ => { });

    [Fact]
    public void Qcow2_disks_are_opened_named_or_probed()
    {
        DiskImages.Create(PathOf("a.qcow2"), DiskImages.Qcow2, 1 << 20);
        DiskImages.Create(PathOf("c.qcow2"), DiskImages.Qcow2, 1 << 20);
        File.WriteAllBytes(PathOf("b.raw"), new byte[1 << 20]);
        using var machine = Machine(new DiskConfig(PathOf("a.qcow2")), new DiskConfig(PathOf("c.qcow2"), ReadOnly: true, Format: "qcow2"),
            new DiskConfig(PathOf("b.raw")));
        Assert.IsType<Qcow2Image>(Assert.IsType<DirtyTrackingDiskImage>(machine.Disks[0].Disk).Inner);
        Assert.IsType<Qcow2Image>(machine.Disks[1].Disk);
        Assert.True(machine.Disks[1].ReadOnly);
        Assert.Throws<IOException>(() => machine.Disks[2].Disk.Write(0, [0x51, 0x46, 0x49, 0xfb])); // probed raw
    }

    [Fact]
    public void A_qcow2_image_used_as_raw_is_its_bytes()
    {
        DiskImages.Create(PathOf("a.qcow2"), DiskImages.Qcow2, 1 << 20);
        using var machine = Machine(new DiskConfig(PathOf("a.qcow2"), Format: "raw"));
        Assert.IsType<RawDiskImage>(Assert.IsType<DirtyTrackingDiskImage>(machine.Disks[0].Disk).Inner);
        Assert.Equal((ulong)new FileInfo(PathOf("a.qcow2")).Length, machine.Disks[0].Disk.Length);
    }

    [Fact]
    public void Bad_disks_are_machine_config_errors()
    {
        DiskImages.Create(PathOf("a.qcow2"), DiskImages.Qcow2, 1 << 20, backingFile: null);
        using var other = new TempFile();
        Qcow2Image.Create(PathOf("ext.qcow2"), 1 << 20, 65536, other.Path, "raw");
        Assert.Contains("outside the image's directory", Assert.Throws<MachineConfigException>(() => Machine(new DiskConfig(PathOf("ext.qcow2")))).Message);
        using (var allowed = Machine(new DiskConfig(PathOf("ext.qcow2"), AllowExternalBacking: true))) Assert.Equal(1UL << 20, allowed.Disks[0].Disk.Length);
        Assert.Contains("not supported", Assert.Throws<MachineConfigException>(() => Machine(new DiskConfig(PathOf("a.qcow2"), Format: "vmdk"))).Message);
        Assert.Contains("does not exist", Assert.Throws<MachineConfigException>(() => Machine(new DiskConfig(PathOf("none.qcow2")))).Message);
    }

    private sealed class TempFile : IDisposable
    {
        public TempFile()
        {
            Path = System.IO.Path.GetTempFileName();
            File.WriteAllBytes(Path, new byte[4096]);
        }

        public string Path { get; }

        public void Dispose() => File.Delete(Path);
    }
}
