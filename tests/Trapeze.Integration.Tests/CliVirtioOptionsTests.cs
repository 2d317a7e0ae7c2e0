using Trapeze.Cli;
using Trapeze.Machine;

namespace Trapeze.Integration.Tests;

/// <summary>The <c>run</c> options for virtio devices: --disk syntax, --device, --console and the defaults.</summary>
public sealed class CliVirtioOptionsTests
{
    private static MachineConfig Parse(params string[] args) =>
        MachineOptions.Parse(new ArgReader("run", args, MachineOptions.Valued, [.. MachineOptions.Flags, "stats", "help"]));

    [Fact]
    public void Disk_options_parse_as_qemu_writes_them()
    {
        Assert.Equal(new DiskConfig("a.img"), MachineOptions.ParseDisk("a.img"));
        Assert.Equal(new DiskConfig("a.img", ReadOnly: true, Format: "raw", Serial: "s1"),
            MachineOptions.ParseDisk("a.img,format=raw,readonly=on,serial=s1"));
        Assert.Equal(new DiskConfig("a.img", ReadOnly: false), MachineOptions.ParseDisk("a.img,readonly=off"));
        Assert.Equal(new DiskConfig("we,ird.img"), MachineOptions.ParseDisk("we,,ird.img"));
        Assert.Throws<UsageException>(() => MachineOptions.ParseDisk(",readonly=on"));
        Assert.Throws<UsageException>(() => MachineOptions.ParseDisk("a.img,readonly=maybe"));
        Assert.Throws<UsageException>(() => MachineOptions.ParseDisk("a.img,format=vmdk"));
        Assert.Throws<UsageException>(() => MachineOptions.ParseDisk("a.img,if=virtio"));
    }

    [Fact]
    public void Defaults_are_a_rng_and_with_console_hvc0_a_virtio_console()
    {
        MachineConfig serial = Parse("--append", "console=ttyS0");
        Assert.Equal([VirtioDeviceKind.Rng], serial.VirtioDevices);
        Assert.Equal(ConsoleDevice.Serial, serial.InputConsole);

        MachineConfig hvc = Parse("--append", "earlycon console=ttyS0 console=hvc0,115200", "--disk", "a.img", "--disk", "b.img");
        Assert.Equal([VirtioDeviceKind.Console, VirtioDeviceKind.Rng], hvc.VirtioDevices);
        Assert.Equal(ConsoleDevice.Virtio, hvc.InputConsole);
        Assert.Equal(["a.img", "b.img"], hvc.Disks.Select(d => d.Path));

        // Linux's /dev/console is the last console= given.
        Assert.Equal(ConsoleDevice.Serial, Parse("--append", "console=hvc0 console=ttyS0").InputConsole);
    }

    [Fact]
    public void Explicit_devices_replace_the_defaults_of_their_kind()
    {
        Assert.Equal([VirtioDeviceKind.Rng, VirtioDeviceKind.Rng], Parse("--device", "virtio-rng", "--device", "virtio-rng").VirtioDevices);
        MachineConfig c = Parse("--device", "virtio-console", "--console", "hvc0");
        Assert.Equal([VirtioDeviceKind.Console, VirtioDeviceKind.Rng], c.VirtioDevices);
        Assert.Equal(ConsoleDevice.Virtio, c.InputConsole);
        Assert.Empty(Parse("--nodefaults").VirtioDevices);
        Assert.Throws<UsageException>(() => Parse("--device", "virtio-gpu"));
        Assert.Throws<UsageException>(() => Parse("--console", "tty1"));
    }

    [Fact]
    public void Defaults_take_only_free_slots()
    {
        string[] eight = [.. Enumerable.Range(0, 8).SelectMany(i => new[] { "--disk", $"d{i}.img" })];
        Assert.Empty(Parse(eight).VirtioDevices);
        string[] seven = [.. Enumerable.Range(0, 7).SelectMany(i => new[] { "--disk", $"d{i}.img" })];
        Assert.Equal([VirtioDeviceKind.Console], Parse([.. seven, "--append", "console=hvc0"]).VirtioDevices);
        // hvc0 without room for its device (or with defaults off) is an error, not a silent dead console.
        Assert.Throws<UsageException>(() => Parse([.. eight, "--append", "console=hvc0"]));
        Assert.Throws<UsageException>(() => Parse("--nodefaults", "--console", "hvc0"));
    }
}
