namespace Trapeze.Machine;

/// <summary>
/// The virtio part of a machine's configuration as users write it (the CLI's <c>--disk</c>, <c>--device</c>
/// and <c>--console</c>, later bundles), and the default devices. Mistakes are <see cref="MachineConfigException"/>s.
/// </summary>
public static class VirtioOptions
{
    /// <summary>
    /// Adds the virtio devices to <paramref name="config"/>. With <paramref name="defaults"/>, a virtio-rng
    /// and, when the input console is hvc0, a virtio-console are added unless given already, in slots
    /// left free (the console first). The input console is <paramref name="console"/>, or else the one
    /// the kernel command line makes /dev/console.
    /// </summary>
    public static MachineConfig WithDevices(MachineConfig config, IEnumerable<DiskConfig> disks,
        IEnumerable<VirtioDeviceKind> devices, ConsoleDevice? console, bool defaults)
    {
        var diskList = disks.ToList();
        var deviceList = devices.ToList();
        ConsoleDevice input = console ?? ConsoleFromBootArgs(config.BootArgs);
        if (defaults)
        {
            int free = MachineConfig.VirtioSlots - diskList.Count - deviceList.Count;
            if (input == ConsoleDevice.Virtio && !deviceList.Contains(VirtioDeviceKind.Console) && free-- > 0)
                deviceList.Add(VirtioDeviceKind.Console);
            if (!deviceList.Contains(VirtioDeviceKind.Rng) && free-- > 0) deviceList.Add(VirtioDeviceKind.Rng);
        }
        if (input == ConsoleDevice.Virtio && !deviceList.Contains(VirtioDeviceKind.Console))
            throw new MachineConfigException("the input console is hvc0 but the machine has no virtio-console (add --device virtio-console)");
        return config with { Disks = diskList, VirtioDevices = deviceList, InputConsole = input };
    }

    /// <summary>Linux's /dev/console is the last console= on its command line.</summary>
    public static ConsoleDevice ConsoleFromBootArgs(string? bootArgs)
    {
        string? last = null;
        foreach (string word in (bootArgs ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries))
            if (word.StartsWith("console=", StringComparison.Ordinal)) last = word["console=".Length..];
        return last != null && last.StartsWith("hvc", StringComparison.Ordinal) ? ConsoleDevice.Virtio : ConsoleDevice.Serial;
    }

    /// <summary><c>ttyS0</c> or <c>hvc0</c>, the guest's names for the two consoles.</summary>
    public static ConsoleDevice ParseConsole(string text) => text switch
    {
        "ttyS0" => ConsoleDevice.Serial,
        "hvc0" => ConsoleDevice.Virtio,
        _ => throw new MachineConfigException($"--console: '{text}' is not ttyS0 or hvc0"),
    };

    public static VirtioDeviceKind ParseDevice(string text) => text switch
    {
        "virtio-rng" or "virtio-rng-device" => VirtioDeviceKind.Rng,
        "virtio-console" or "virtconsole" => VirtioDeviceKind.Console,
        _ => throw new MachineConfigException($"--device: '{text}' is not a device (devices: virtio-rng, virtio-console)"),
    };

    /// <summary>Parses <c>FILE[,format=raw][,readonly=on|off][,serial=STR]</c>; a comma in the file name
    /// is written twice, as in QEMU's option syntax.</summary>
    public static DiskConfig ParseDisk(string text)
    {
        List<string> parts = SplitOptions(text);
        string path = parts[0];
        if (path.Length == 0) throw new MachineConfigException($"--disk '{text}': no image file");
        var disk = new DiskConfig(path);
        foreach (string part in parts.Skip(1))
        {
            int eq = part.IndexOf('=');
            string key = eq < 0 ? part : part[..eq], value = eq < 0 ? "" : part[(eq + 1)..];
            disk = key switch
            {
                "format" when value is "raw" or "qcow2" => disk with { Format = value },
                "format" => throw new MachineConfigException($"--disk: format '{value}' is not supported (raw, qcow2)"),
                "readonly" => disk with { ReadOnly = ParseSwitch(key, value) },
                "serial" => disk with { Serial = value },
                "allow-external-backing" => disk with { AllowExternalBacking = ParseSwitch(key, value) },
                _ => throw new MachineConfigException($"--disk: unknown option '{key}' (options: format, readonly, serial, allow-external-backing)"),
            };
        }
        return disk;
    }

    private static bool ParseSwitch(string key, string value) => value switch
    {
        "on" or "yes" or "true" or "" => true,
        "off" or "no" or "false" => false,
        _ => throw new MachineConfigException($"--disk: {key}={value} is not on or off"),
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
}
