using Trapeze.Machine;

namespace Trapeze.Machine.Tests;

/// <summary>The virtio options as users write them (--disk syntax, --device, --console) and the default devices.</summary>
public sealed class VirtioOptionsTests
{
    private static MachineConfig With(string? bootArgs = null, string[]? disks = null, VirtioDeviceKind[]? devices = null,
        ConsoleDevice? console = null, bool defaults = true) =>
        VirtioOptions.WithDevices(new MachineConfig { BootArgs = bootArgs },
            (disks ?? []).Select(VirtioOptions.ParseDisk), devices ?? [], console, defaults);

    [Fact]
    public void Disk_options_parse_as_qemu_writes_them()
    {
        Assert.Equal(new DiskConfig("a.img"), VirtioOptions.ParseDisk("a.img"));
        Assert.Equal(new DiskConfig("a.img", ReadOnly: true, Format: "raw", Serial: "s1"),
            VirtioOptions.ParseDisk("a.img,format=raw,readonly=on,serial=s1"));
        Assert.Equal(new DiskConfig("a.img", ReadOnly: false), VirtioOptions.ParseDisk("a.img,readonly=off"));
        Assert.Equal(new DiskConfig("we,ird.img"), VirtioOptions.ParseDisk("we,,ird.img"));
        Assert.Throws<MachineConfigException>(() => VirtioOptions.ParseDisk(",readonly=on"));
        Assert.Throws<MachineConfigException>(() => VirtioOptions.ParseDisk("a.img,readonly=maybe"));
        Assert.Throws<MachineConfigException>(() => VirtioOptions.ParseDisk("a.img,format=vmdk"));
        Assert.Throws<MachineConfigException>(() => VirtioOptions.ParseDisk("a.img,if=virtio"));
    }

    [Fact]
    public void Defaults_are_a_rng_and_with_console_hvc0_a_virtio_console()
    {
        MachineConfig serial = With("console=ttyS0");
        Assert.Equal([VirtioDeviceKind.Rng], serial.VirtioDevices);
        Assert.Equal(ConsoleDevice.Serial, serial.InputConsole);

        MachineConfig hvc = With("earlycon console=ttyS0 console=hvc0,115200", ["a.img", "b.img"]);
        Assert.Equal([VirtioDeviceKind.Console, VirtioDeviceKind.Rng], hvc.VirtioDevices);
        Assert.Equal(ConsoleDevice.Virtio, hvc.InputConsole);
        Assert.Equal(["a.img", "b.img"], hvc.Disks.Select(d => d.Path));

        // Linux's /dev/console is the last console= given.
        Assert.Equal(ConsoleDevice.Serial, With("console=hvc0 console=ttyS0").InputConsole);
        Assert.Equal(ConsoleDevice.Serial, With().InputConsole);
    }

    [Fact]
    public void Explicit_devices_replace_the_defaults_of_their_kind()
    {
        Assert.Equal([VirtioDeviceKind.Rng, VirtioDeviceKind.Rng], With(devices: [VirtioDeviceKind.Rng, VirtioDeviceKind.Rng]).VirtioDevices);
        MachineConfig c = With(devices: [VirtioDeviceKind.Console], console: ConsoleDevice.Virtio);
        Assert.Equal([VirtioDeviceKind.Console, VirtioDeviceKind.Rng], c.VirtioDevices);
        Assert.Equal(ConsoleDevice.Virtio, c.InputConsole);
        Assert.Empty(With(defaults: false).VirtioDevices);
        Assert.Equal(VirtioDeviceKind.Console, VirtioOptions.ParseDevice("virtio-console"));
        Assert.Throws<MachineConfigException>(() => VirtioOptions.ParseDevice("virtio-gpu"));
        Assert.Equal(ConsoleDevice.Virtio, VirtioOptions.ParseConsole("hvc0"));
        Assert.Throws<MachineConfigException>(() => VirtioOptions.ParseConsole("tty1"));
    }

    [Fact]
    public void Defaults_take_only_free_slots()
    {
        string[] eight = [.. Enumerable.Range(0, 8).Select(i => $"d{i}.img")];
        Assert.Empty(With(disks: eight).VirtioDevices);
        Assert.Equal([VirtioDeviceKind.Console], With("console=hvc0", eight[..7]).VirtioDevices);
        // hvc0 without room for its device (or with defaults off) is an error, not a silent dead console.
        Assert.Throws<MachineConfigException>(() => With("console=hvc0", eight));
        Assert.Throws<MachineConfigException>(() => With(console: ConsoleDevice.Virtio, defaults: false));
    }

    [Fact]
    public void A_board_refuses_more_devices_than_slots_and_bad_disks_before_reserving_memory()
    {
        string dir = Directory.CreateTempSubdirectory("trapeze-virtio-").FullName;
        try
        {
            string image = Path.Combine(dir, "d.img");
            File.WriteAllBytes(image, new byte[4096]);
            var nine = new MachineConfig { Disks = [.. Enumerable.Repeat(new DiskConfig(image, ReadOnly: true), 9)] };
            Assert.Contains("virtio-mmio slots", Assert.Throws<MachineConfigException>(() => new VirtMachine(nine, _ => { })).Message);
            var missing = new MachineConfig { Disks = [new DiskConfig(Path.Combine(dir, "none.img"))] };
            Assert.Contains("does not exist", Assert.Throws<MachineConfigException>(() => new VirtMachine(missing, _ => { })).Message);
            var serial = new MachineConfig { Disks = [new DiskConfig(image, Serial: "much-too-long-for-virtio-blk")] };
            Assert.Contains("serial", Assert.Throws<MachineConfigException>(() => new VirtMachine(serial, _ => { })).Message);
            // A good configuration still builds (nothing above left the image open or locked).
            using var machine = new VirtMachine(new MachineConfig { Disks = [new DiskConfig(image)] }, _ => { });
            Assert.Single(machine.Disks);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void Net_options_parse_and_bad_ones_say_what_is_wrong()
    {
        Assert.Equal(new NetConfig(NetBackendKind.SocketListen, "127.0.0.1:5555"), VirtioOptions.ParseNet("socket,listen=127.0.0.1:5555"));
        Assert.Equal(NetBackendKind.SocketConnect, VirtioOptions.ParseNet("socket,connect=localhost:1").Backend);
        NetConfig tap = VirtioOptions.ParseNet("tap,ifname=tap0,mac=52:54:00:12:34:56");
        Assert.Equal((NetBackendKind.Tap, "tap0"), (tap.Backend, tap.Address));
        Assert.Equal(new byte[] { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 }, tap.Mac);
        foreach (string bad in new[] { "user", "socket", "socket,listen=5555", "socket,listen=h:99999", "socket,listen=h:1,connect=h:2",
                     "socket,ifname=x", "tap", "tap,ifname=", "tap,ifname=a-name-that-is-too-long", "tap,listen=h:1",
                     "tap,ifname=t,mac=52:54:00:12:34", "tap,ifname=t,mac=53:54:00:12:34:56", "tap,ifname=t,mac=zz:54:00:12:34:56",
                     "tap,ifname=t,model=e1000" })
        {
            var e = Assert.Throws<MachineConfigException>(() => VirtioOptions.ParseNet(bad));
            Assert.StartsWith("--net: ", e.Message);
        }
    }

    [Fact]
    public void Nets_take_virtio_slots_before_the_defaults()
    {
        MachineConfig config = VirtioOptions.WithDevices(new MachineConfig(), Enumerable.Repeat("a.img", 6).Select(VirtioOptions.ParseDisk), [], null, true,
            [VirtioOptions.ParseNet("socket,listen=127.0.0.1:1"), VirtioOptions.ParseNet("tap,ifname=t0")]);
        Assert.Equal(2, config.Nets.Count);
        Assert.Empty(config.VirtioDevices); // no slot left for the default rng
    }
}
