using Trapeze.Machine;

namespace Trapeze.Cli;

/// <summary>The machine options shared by commands that boot a VM.</summary>
public static class MachineOptions
{
    public static readonly string[] Valued = ["bios", "kernel", "initrd", "append", "mem", "smp", "dump-dtb", "jit-threshold", "lockstep", "disk", "device", "console", "net"];

    /// <summary>Flags every machine-booting command accepts.</summary>
    public static readonly string[] Flags = ["no-jit", "nodefaults"];

    public const string DeviceHelp = """
          --disk FILE[,format=raw|qcow2][,readonly=on][,serial=STR][,allow-external-backing=on]
                                    a virtio-blk disk over an image file (repeatable; the first is
                                    /dev/vda). readonly=on opens the file read-only and tells the guest.
                                    Without format= the file is probed: the qcow2 magic means qcow2,
                                    anything else raw (and the guest may then not write the qcow2
                                    magic into its first sector). Name the format for images you did
                                    not make. A qcow2 backing file must be in the image's directory
                                    unless allow-external-backing=on.
          --net socket,listen=HOST:PORT|socket,connect=HOST:PORT|tap,ifname=NAME[,mac=52:54:00:12:34:56]
                                    a virtio-net NIC (repeatable; the first is eth0): frames over TCP
                                    in QEMU's -netdev socket framing, or a Linux TAP interface
          --device virtio-rng|virtio-console
                                    add a virtio device (repeatable)
          --console ttyS0|hvc0      where keyboard input goes: the UART (ttyS0) or the virtio-console
                                    (hvc0, once the guest's driver runs; the UART until then). Default:
                                    hvc0 if the last console= of --append names hvc0, else ttyS0.
          --nodefaults              add no default devices

        Default devices: a virtio-rng, and a virtio-console when the input console is hvc0 (so that
        console=hvc0 just works). Disks and devices share the board's 8 virtio-mmio slots; defaults take
        only slots left free. The output of the UART and of the virtio-console both go to the terminal.
        """;

    public static MachineConfig Parse(ArgReader a)
    {
        var config = new MachineConfig();
        string? bios = a.Value("bios");
        config = bios switch
        {
            null => config with { Firmware = FirmwareKind.File, FirmwarePath = null },
            "none" => config with { Firmware = FirmwareKind.None },
            "builtin" => config with { Firmware = FirmwareKind.Builtin },
            "" => throw new UsageException("--bios: empty path"),
            _ => config with { Firmware = FirmwareKind.File, FirmwarePath = bios },
        };
        if (a.Value("kernel") is { } k) config = config with { KernelPath = k };
        if (a.Value("initrd") is { } i) config = config with { InitrdPath = i };
        if (a.Value("append") is { } ap) config = config with { BootArgs = ap };
        if (a.Value("mem") is { } m) config = config with { MemorySize = ArgReader.ParseSize("mem", m) };
        if (a.Value("smp") is { } s) config = config with { Harts = ArgReader.ParseInt("smp", s, 1, MachineConfig.MaxHarts) };
        if (a.Flag("no-jit")) config = config with { Jit = false };
        if (a.Value("jit-threshold") is { } jt) config = config with { JitThreshold = ArgReader.ParseInt("jit-threshold", jt, 0, 1_000_000) };
        if (a.Value("lockstep") is { } ls) config = config with { Lockstep = ArgReader.ParseInt("lockstep", ls, 1, 1_000_000_000) };
        if (config.MemorySize % 4096 != 0) throw new UsageException("--mem: size must be a multiple of 4 KiB");
        return ParseDevices(a, config);
    }

    private static MachineConfig ParseDevices(ArgReader a, MachineConfig config) =>
        VirtioOptions.WithDevices(config,
            a.Values("disk").Select(VirtioOptions.ParseDisk),
            a.Values("device").Select(VirtioOptions.ParseDevice),
            a.Value("console") is { } console ? VirtioOptions.ParseConsole(console) : null,
            defaults: !a.Flag("nodefaults"),
            a.Values("net").Select(VirtioOptions.ParseNet));

    /// <summary>Prints the lockstep outcome (report of a divergence on stderr); returns the exit code to
    /// use instead of <paramref name="code"/>.</summary>
    public static int ReportLockstep(VirtMachine machine, int code)
    {
        if (machine.Lockstep is not { } ls) return code;
        if (ls.Divergence != null) HostStreams.Error.Write(ls.Divergence);
        HostStreams.Error.WriteLine(ls.Summary);
        return ls.Divergence != null ? VirtMachine.LockstepExitCode : code;
    }

    public static void DumpDtbIfAsked(ArgReader a, VirtMachine machine)
    {
        if (a.Value("dump-dtb") is not { } path) return;
        try { File.WriteAllBytes(path, machine.DeviceTree); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"--dump-dtb: cannot write '{path}': {e.Message}");
        }
    }
}
