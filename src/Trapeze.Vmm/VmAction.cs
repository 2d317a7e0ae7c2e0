namespace Trapeze.Vmm;

/// <summary>
/// Everything that can be asked of the monitor, as one closed set (DESIGN.md, "The monitor around the
/// machine"): the CLI's verbs and the REST endpoints only build these; <see cref="VmManager"/> alone carries
/// them out. The private constructor keeps the set closed to this file.
/// </summary>
public abstract record VmAction
{
    private VmAction() { }

    /// <summary>The VM the action is about (for import, the new name if one is given), or null (list).</summary>
    public string? Target => this switch
    {
        Create c => c.Request.Name,
        Start a => a.Name, Stop a => a.Name, Kill a => a.Name, RequestPowerOff a => a.Name,
        Pause a => a.Name, Resume a => a.Name, Snapshot a => a.Name, Restore a => a.Name,
        ResizeDisk a => a.Name, Remove a => a.Name, ConfigureMachine a => a.Name, ConfigureBoot a => a.Name,
        ConfigureDrive a => a.Name, ConfigureNetworkInterface a => a.Name, Export a => a.Name,
        Describe a => a.Name, Metrics a => a.Name, Import a => a.Name,
        Migrate a => a.Name, Receive a => a.Name,
        ListSnapshots a => a.Name, RemoveSnapshot a => a.Name,
        _ => null,
    };

    /// <summary>Whether the action only reads (it may then run beside another action on the same VM).</summary>
    public bool IsQuery => this is List or Describe or Metrics or ListSnapshots;

    /// <summary>Makes a new bundle. Images named in <paramref name="Request"/> are copied into it.</summary>
    public sealed record Create(VmCreateRequest Request) : VmAction;

    /// <summary>Starts the VM in a process of its own; returns once it runs (or failed to start).</summary>
    public sealed record Start(string Name) : VmAction;

    /// <summary>Asks the guest to power off, then forces it after <paramref name="Timeout"/> (null: the
    /// VM's own stop_timeout_seconds).</summary>
    public sealed record Stop(string Name, TimeSpan? Timeout = null) : VmAction;

    /// <summary>Ends the VM process at once (SIGKILL), as pulling the plug.</summary>
    public sealed record Kill(string Name) : VmAction;

    /// <summary>Asks the guest to power off and returns at once (the request <c>stop</c> makes first).</summary>
    public sealed record RequestPowerOff(string Name) : VmAction;

    public sealed record Pause(string Name) : VmAction;
    public sealed record Resume(string Name) : VmAction;

    /// <summary>Saves the running VM's state and copies of its writable disks as snapshots/TAG/ (see
    /// <see cref="BundleSnapshots"/>), replacing an older snapshot of that tag once the new one is complete.</summary>
    public sealed record Snapshot(string Name, string Tag) : VmAction;

    /// <summary>Puts the disks of snapshot TAG back and starts the VM from its state, in a new VM process.</summary>
    public sealed record Restore(string Name, string Tag) : VmAction;

    /// <summary>The VM's snapshots.</summary>
    public sealed record ListSnapshots(string Name) : VmAction;

    /// <summary>Deletes snapshot TAG (the VM may run: snapshots are independent copies).</summary>
    public sealed record RemoveSnapshot(string Name, string Tag) : VmAction;

    /// <summary>Grows drive <paramref name="DriveId"/> to <paramref name="Size"/> bytes (VM powered off).</summary>
    public sealed record ResizeDisk(string Name, string DriveId, ulong Size) : VmAction;

    /// <summary>Deletes the bundle; a running VM is refused unless <paramref name="Force"/> (then killed).</summary>
    public sealed record Remove(string Name, bool Force = false) : VmAction;

    /// <summary>Changes the machine (powered off): CPUs and/or memory.</summary>
    public sealed record ConfigureMachine(string Name, int? Cpus, ulong? MemoryMiB) : VmAction;

    /// <summary>Changes how the VM boots (powered off). Null fields are left as they are.</summary>
    public sealed record ConfigureBoot(string Name, string? Kernel, string? Initrd, string? Cmdline, string? Firmware) : VmAction;

    /// <summary>Adds or replaces a drive (powered off).</summary>
    public sealed record ConfigureDrive(string Name, VmDiskRequest Drive) : VmAction;

    /// <summary>Adds or replaces a NIC (powered off).</summary>
    public sealed record ConfigureNetworkInterface(string Name, VmNetworkInterface Interface) : VmAction;

    /// <summary>Packs a powered-off bundle into one archive file.</summary>
    public sealed record Export(string Name, string File) : VmAction;

    /// <summary>Unpacks an archive made by <see cref="Export"/> as a new VM (named as in the archive, or
    /// <paramref name="Name"/>).</summary>
    public sealed record Import(string File, string? Name = null) : VmAction;

    /// <summary>The state of every VM.</summary>
    public sealed record List : VmAction;

    /// <summary>The state of one VM.</summary>
    public sealed record Describe(string Name) : VmAction;

    /// <summary>Live-migrates the running VM to the VM process receiving on <paramref name="Destination"/>
    /// (HOST:PORT, made by <see cref="Receive"/> on the other host); the bundle here is left marked migrated.</summary>
    public sealed record Migrate(string Name, string Destination) : VmAction;

    /// <summary>Makes a VM process that listens on <paramref name="Listen"/> (HOST:PORT) for one live migration and
    /// then runs the guest as VM <paramref name="Name"/>, whose bundle it makes from the source's.
    /// <paramref name="Timeout"/> (null: 10 minutes) bounds the wait for the source.</summary>
    public sealed record Receive(string Name, string Listen, TimeSpan? Timeout = null) : VmAction;

    /// <summary>The running VM's counters (instructions, exits by reason, translator) as JSON.</summary>
    public sealed record Metrics(string Name) : VmAction;
}

/// <summary>What <see cref="VmAction.Create"/> needs. Paths are the caller's (absolute or relative to its
/// working directory); kernel, initrd and firmware files are copied into the bundle.</summary>
public sealed record VmCreateRequest
{
    public required string Name { get; init; }
    public int Cpus { get; init; } = 1;
    public ulong MemoryMiB { get; init; } = 512;
    public string Firmware { get; init; } = VmDefinition.FirmwareOpenSbi;
    public string? Kernel { get; init; }
    public string? Initrd { get; init; }
    public string? Cmdline { get; init; }
    public IReadOnlyList<VmDiskRequest> Disks { get; init; } = [];
    public IReadOnlyList<VmNetworkInterface> NetworkInterfaces { get; init; } = [];
    public IReadOnlyList<string> Devices { get; init; } = [];
    public string? Console { get; init; }
    public bool Jit { get; init; } = true;
    public int GcHeapLimitMiB { get; init; } = VmDefinition.DefaultGcHeapLimitMiB;
    public int StopTimeoutSeconds { get; init; } = VmDefinition.DefaultStopTimeoutSeconds;
}

/// <summary>A disk for a VM: a new image of <paramref name="Size"/> bytes made in the bundle (format qcow2
/// unless given), or an existing image at <paramref name="Path"/> (used where it is, not copied).</summary>
public sealed record VmDiskRequest(string? Id = null, string? Path = null, ulong? Size = null, string? Format = null,
    bool ReadOnly = false, string? Serial = null);

/// <summary>What an action gives back: a message, VM states, a JSON document (metrics), or snapshots.</summary>
public sealed record VmResult(string? Message = null, IReadOnlyList<VmStatus>? Vms = null, string? Json = null,
    IReadOnlyList<VmSnapshotInfo>? Snapshots = null)
{
    public static readonly VmResult Done = new();
}

/// <summary>One line of <c>list</c>.</summary>
public sealed record VmStatus(string Name, string State, int Cpus, ulong MemoryMiB, int? Pid, DateTimeOffset? StartedAt, string Path)
{
    public const string Running = "running", Paused = "paused", Stopped = "stopped", Crashed = "crashed";

    /// <summary>The guest was live-migrated away; this copy is not to be started (it runs elsewhere).</summary>
    public const string Migrated = "migrated";

    /// <summary>A VM process waits for a live migration (<see cref="VmAction.Receive"/>); the VM has no vm.json yet.</summary>
    public const string Incoming = "incoming";

    /// <summary>The bundle's vm.json cannot be read (the VM's other actions say why).</summary>
    public const string Invalid = "invalid";
}
