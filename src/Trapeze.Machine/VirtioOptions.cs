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
        IEnumerable<VirtioDeviceKind> devices, ConsoleDevice? console, bool defaults, IEnumerable<NetConfig>? nets = null)
    {
        var diskList = disks.ToList();
        var netList = (nets ?? []).ToList();
        var deviceList = devices.ToList();
        ConsoleDevice input = console ?? ConsoleFromBootArgs(config.BootArgs);
        if (defaults)
        {
            int free = MachineConfig.VirtioSlots - diskList.Count - netList.Count - deviceList.Count;
            if (input == ConsoleDevice.Virtio && !deviceList.Contains(VirtioDeviceKind.Console) && free-- > 0)
                deviceList.Add(VirtioDeviceKind.Console);
            if (!deviceList.Contains(VirtioDeviceKind.Rng) && free-- > 0) deviceList.Add(VirtioDeviceKind.Rng);
        }
        if (input == ConsoleDevice.Virtio && !deviceList.Contains(VirtioDeviceKind.Console))
            throw new MachineConfigException("the input console is hvc0 but the machine has no virtio-console (add --device virtio-console)");
        return config with { Disks = diskList, Nets = netList, VirtioDevices = deviceList, InputConsole = input };
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

    /// <summary>Parses <c>socket,listen=HOST:PORT</c>, <c>socket,connect=HOST:PORT</c> or
    /// <c>tap,ifname=NAME</c>, each with an optional <c>,mac=52:54:00:12:34:56</c>.</summary>
    public static NetConfig ParseNet(string text)
    {
        List<string> parts = SplitOptions(text);
        string kind = parts[0];
        if (kind is not ("socket" or "tap")) throw new MachineConfigException($"--net: '{kind}' is not a backend (socket, tap)");
        NetBackendKind? backend = null;
        string? address = null;
        byte[]? mac = null;
        foreach (string part in parts.Skip(1))
        {
            int eq = part.IndexOf('=');
            string key = eq < 0 ? part : part[..eq], value = eq < 0 ? "" : part[(eq + 1)..];
            switch (key)
            {
                case "listen" or "connect" when kind == "socket":
                    if (backend != null) throw new MachineConfigException("--net: socket takes one of listen= or connect=");
                    backend = key == "listen" ? NetBackendKind.SocketListen : NetBackendKind.SocketConnect;
                    address = CheckHostPort(value);
                    break;
                case "ifname" when kind == "tap":
                    if (value.Length is 0 or > 15 || value.Any(c => c <= ' ' || c > '~' || c == '/'))
                        throw new MachineConfigException($"--net: ifname '{value}' is not an interface name (1 to 15 printable characters)");
                    backend = NetBackendKind.Tap;
                    address = value;
                    break;
                case "mac":
                    mac = ParseMac(value);
                    break;
                default:
                    throw new MachineConfigException($"--net: unknown option '{key}' for {kind} (options: {(kind == "socket" ? "listen, connect" : "ifname")}, mac)");
            }
        }
        if (backend == null || address == null)
            throw new MachineConfigException(kind == "socket" ? "--net: socket needs listen=HOST:PORT or connect=HOST:PORT" : "--net: tap needs ifname=NAME");
        return new NetConfig(backend.Value, address, mac);
    }

    private static string CheckHostPort(string value)
    {
        int colon = value.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(value.AsSpan(colon + 1), System.Globalization.NumberStyles.None, null, out int port) || port > 65535)
            throw new MachineConfigException($"--net: '{value}' is not HOST:PORT");
        return value;
    }

    /// <summary>Six hex bytes separated by colons; a multicast address cannot name a NIC.</summary>
    public static byte[] ParseMac(string value)
    {
        string[] bytes = value.Split(':');
        var mac = new byte[6];
        if (bytes.Length != 6) throw new MachineConfigException($"--net: mac '{value}' is not six hex bytes like 52:54:00:12:34:56");
        for (int i = 0; i < 6; i++)
            if (bytes[i].Length != 2 || !byte.TryParse(bytes[i], System.Globalization.NumberStyles.AllowHexSpecifier, null, out mac[i]))
                throw new MachineConfigException($"--net: mac '{value}' is not six hex bytes like 52:54:00:12:34:56");
        if ((mac[0] & 1) != 0) throw new MachineConfigException($"--net: mac '{value}' is a multicast address");
        return mac;
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
