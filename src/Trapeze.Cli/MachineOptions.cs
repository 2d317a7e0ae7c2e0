using Trapeze.Machine;

namespace Trapeze.Cli;

/// <summary>The machine options shared by commands that boot a VM.</summary>
public static class MachineOptions
{
    public static readonly string[] Valued = ["bios", "kernel", "initrd", "append", "mem", "smp", "dump-dtb", "disk", "device", "console"];

    public static readonly string[] Flags = ["nodefaults"];

    public const string DeviceHelp = """
          --disk FILE[,format=raw|qcow2][,readonly=on][,serial=STR][,allow-external-backing=on]
                                    a virtio-blk disk over an image file (repeatable; the first is
                                    /dev/vda). readonly=on opens the file read-only and tells the guest.
                                    Without format= the file is probed: the qcow2 magic means qcow2,
                                    anything else raw (and the guest may then not write the qcow2
                                    magic into its first sector). Name the format for images you did
                                    not make. A qcow2 backing file must be in the image's directory
                                    unless allow-external-backing=on.
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
        if (config.MemorySize % 4096 != 0) throw new UsageException("--mem: size must be a multiple of 4 KiB");
        return ParseDevices(a, config);
    }

    private static MachineConfig ParseDevices(ArgReader a, MachineConfig config)
    {
        var disks = a.Values("disk").Select(ParseDisk).ToList();
        var devices = a.Values("device").Select(ParseDevice).ToList();
        ConsoleDevice input = a.Value("console") switch
        {
            null => ConsoleFromBootArgs(config.BootArgs),
            "ttyS0" => ConsoleDevice.Serial,
            "hvc0" => ConsoleDevice.Virtio,
            var other => throw new UsageException($"--console: '{other}' is not ttyS0 or hvc0"),
        };
        if (!a.Flag("nodefaults"))
        {
            int free = MachineConfig.VirtioSlots - disks.Count - devices.Count;
            if (input == ConsoleDevice.Virtio && !devices.Contains(VirtioDeviceKind.Console) && free-- > 0)
                devices.Add(VirtioDeviceKind.Console);
            if (!devices.Contains(VirtioDeviceKind.Rng) && free-- > 0) devices.Add(VirtioDeviceKind.Rng);
        }
        if (input == ConsoleDevice.Virtio && !devices.Contains(VirtioDeviceKind.Console))
            throw new UsageException("the input console is hvc0 but the machine has no virtio-console (add --device virtio-console)");
        return config with { Disks = disks, VirtioDevices = devices, InputConsole = input };
    }

    /// <summary>Linux's /dev/console is the last console= on its command line.</summary>
    public static ConsoleDevice ConsoleFromBootArgs(string? bootArgs)
    {
        string? last = null;
        foreach (string word in (bootArgs ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries))
            if (word.StartsWith("console=", StringComparison.Ordinal)) last = word["console=".Length..];
        return last != null && last.StartsWith("hvc", StringComparison.Ordinal) ? ConsoleDevice.Virtio : ConsoleDevice.Serial;
    }

    private static VirtioDeviceKind ParseDevice(string text) => text switch
    {
        "virtio-rng" or "virtio-rng-device" => VirtioDeviceKind.Rng,
        "virtio-console" or "virtconsole" => VirtioDeviceKind.Console,
        _ => throw new UsageException($"--device: '{text}' is not a device (devices: virtio-rng, virtio-console)"),
    };

    /// <summary>Parses <c>FILE[,format=raw][,readonly=on|off][,serial=STR]</c>; a comma in the file name
    /// is written twice, as in QEMU's option syntax.</summary>
    public static DiskConfig ParseDisk(string text)
    {
        List<string> parts = SplitOptions(text);
        string path = parts[0];
        if (path.Length == 0) throw new UsageException($"--disk '{text}': no image file");
        var disk = new DiskConfig(path);
        foreach (string part in parts.Skip(1))
        {
            int eq = part.IndexOf('=');
            string key = eq < 0 ? part : part[..eq], value = eq < 0 ? "" : part[(eq + 1)..];
            disk = key switch
            {
                "format" when value is "raw" or "qcow2" => disk with { Format = value },
                "format" => throw new UsageException($"--disk: format '{value}' is not supported (raw, qcow2)"),
                "readonly" => disk with { ReadOnly = ParseSwitch(key, value) },
                "serial" => disk with { Serial = value },
                "allow-external-backing" => disk with { AllowExternalBacking = ParseSwitch(key, value) },
                _ => throw new UsageException($"--disk: unknown option '{key}' (options: format, readonly, serial, allow-external-backing)"),
            };
        }
        return disk;
    }

    private static bool ParseSwitch(string key, string value) => value switch
    {
        "on" or "yes" or "true" or "" => true,
        "off" or "no" or "false" => false,
        _ => throw new UsageException($"--disk: {key}={value} is not on or off"),
    };

    private static List<string> SplitOptions(string text)
    {
        var parts = new List<string>();
        var current = new System.Text.StringBuilder();
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] != ',') { current.Append(text[i]); continue; }
            if (i + 1 < text.Length && text[i + 1] == ',') { current.Append(','); i++; continue; }
            parts.Add(current.ToString());
            current.Clear();
        }
        parts.Add(current.ToString());
        return parts;
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
