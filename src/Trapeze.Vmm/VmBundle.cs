using Trapeze.Machine;

namespace Trapeze.Vmm;

/// <summary>
/// A VM as a directory: <c>vm.json</c>, the images it names by relative path, <c>snapshots/</c>, and while a
/// VM process runs it, the files that process keeps (<c>vm.lock</c> held with flock, <c>vm.pid</c>,
/// <c>api.sock</c>, <c>console.sock</c>, <c>console.log</c>). Copying a powered-off bundle directory
/// elsewhere gives a VM that starts there.
/// </summary>
public sealed class VmBundle
{
    public const string DefinitionFile = "vm.json";

    /// <summary>Files a VM process makes and removes: not part of a bundle that is copied or exported.</summary>
    public static readonly string[] RuntimeFiles =
        ["vm.lock", "vm.pid", "api.sock", "console.sock", "console.log", "console.log.1", "vm-process.log", "exit.json"];

    private VmBundle(string directory, VmDefinition definition)
    {
        Directory = directory;
        Definition = definition;
    }

    public string Directory { get; }
    public VmDefinition Definition { get; private set; }
    public string Name => Definition.Name;

    public string DefinitionPath => Path.Combine(Directory, DefinitionFile);
    public string LockPath => Path.Combine(Directory, "vm.lock");
    public string PidPath => Path.Combine(Directory, "vm.pid");
    public string ApiSocket => Path.Combine(Directory, "api.sock");
    public string ConsoleSocket => Path.Combine(Directory, "console.sock");
    public string ConsoleLog => Path.Combine(Directory, "console.log");
    public string ProcessLog => Path.Combine(Directory, "vm-process.log");
    public string ExitPath => Path.Combine(Directory, "exit.json");
    public string SnapshotsDirectory => Path.Combine(Directory, "snapshots");

    /// <summary>Reads and checks <c>vm.json</c> in <paramref name="directory"/>.</summary>
    public static VmBundle Open(string directory)
    {
        directory = Path.GetFullPath(directory);
        string path = Path.Combine(directory, DefinitionFile);
        string text;
        try { text = File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw VmException.BadRequest($"cannot read {path}: {e.Message}");
        }
        return new VmBundle(directory, VmJson.Read(text, path));
    }

    /// <summary>Makes a new bundle directory holding <paramref name="definition"/> (the directory must not
    /// exist or be empty).</summary>
    public static VmBundle Create(string directory, VmDefinition definition)
    {
        directory = Path.GetFullPath(directory);
        System.IO.Directory.CreateDirectory(directory);
        var bundle = new VmBundle(directory, definition);
        bundle.Save(definition);
        return bundle;
    }

    /// <summary>Replaces <c>vm.json</c>: written to a temporary file, flushed, then renamed over the old one,
    /// so a crash leaves the old or the new file, never half of one.</summary>
    public void Save(VmDefinition definition)
    {
        // Checked by reading back what would be written: vm.json never holds what its reader refuses.
        VmJson.Read(VmJson.Write(definition), DefinitionPath);
        string temp = DefinitionPath + ".tmp";
        using (var f = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            f.Write(System.Text.Encoding.UTF8.GetBytes(VmJson.Write(definition)));
            f.Flush(flushToDisk: true);
        }
        File.Move(temp, DefinitionPath, overwrite: true);
        Definition = definition;
    }

    /// <summary>A path from vm.json made absolute: relative paths are relative to the bundle.</summary>
    public string Resolve(string path) => Path.GetFullPath(path, Directory);

    /// <summary>The machine configuration the VM process boots, with the CLI's default devices.</summary>
    public MachineConfig ToMachineConfig()
    {
        VmDefinition d = Definition;
        var config = new MachineConfig
        {
            Harts = d.Cpus,
            MemorySize = d.MemoryMiB << 20,
            KernelPath = d.Kernel != null ? Resolve(d.Kernel) : null,
            InitrdPath = d.Initrd != null ? Resolve(d.Initrd) : null,
            BootArgs = d.Cmdline,
            Jit = d.Jit,
        };
        config = d.Firmware switch
        {
            VmDefinition.FirmwareOpenSbi => config with { Firmware = FirmwareKind.File, FirmwarePath = null },
            VmDefinition.FirmwareBuiltin => config with { Firmware = FirmwareKind.Builtin },
            VmDefinition.FirmwareNone => config with { Firmware = FirmwareKind.None },
            _ => config with { Firmware = FirmwareKind.File, FirmwarePath = Resolve(d.Firmware) },
        };
        int virtio = d.Drives.Count + d.NetworkInterfaces.Count + d.Devices.Count;
        if (virtio > MachineConfig.VirtioSlots)
            throw new MachineConfigException($"{virtio} virtio devices ({d.Drives.Count} drives) do not fit in the board's {MachineConfig.VirtioSlots} virtio-mmio slots");
        return VirtioOptions.WithDevices(config,
            d.Drives.Select(x => new DiskConfig(Resolve(x.Path), x.ReadOnly, x.Format, x.Serial)),
            d.Devices.Select(VirtioOptions.ParseDevice),
            d.Console != null ? VirtioOptions.ParseConsole(d.Console) : null,
            defaults: true,
            d.NetworkInterfaces.Select(ToNetConfig));
    }

    public static NetConfig ToNetConfig(VmNetworkInterface nic)
    {
        string spec = nic.Backend switch
        {
            "tap" => $"tap,ifname={nic.Address}",
            "socket-listen" => $"socket,listen={nic.Address}",
            "socket-connect" => $"socket,connect={nic.Address}",
            _ => throw new MachineConfigException($"network interface '{nic.Id}': backend '{nic.Backend}' is not tap, socket-listen or socket-connect"),
        };
        if (nic.Mac != null) spec += $",mac={nic.Mac}";
        return VirtioOptions.ParseNet(spec);
    }

    /// <summary>Whether a VM process holds this bundle's lock right now. The lock, not a pid file, is the
    /// truth: the kernel releases it when the process dies however it dies.</summary>
    public bool IsLocked() => ProcessLock.IsHeld(LockPath);

    /// <summary>The pid a VM process recorded, or null.</summary>
    public int? ReadPid()
    {
        try { return int.TryParse(File.ReadAllText(PidPath).Trim(), out int pid) ? pid : null; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>Removes what a VM process that died without cleaning up left behind.</summary>
    public void RemoveRuntimeLeftovers()
    {
        foreach (string f in new[] { PidPath, ApiSocket, ConsoleSocket })
        {
            try { File.Delete(f); }
            catch (IOException) { }
        }
    }
}
