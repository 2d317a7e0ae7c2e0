using Trapeze.Machine;

namespace Trapeze.Vmm;

/// <summary>
/// What <c>vm.json</c> says about a VM: the machine, how it boots, its disks and NICs, and the limits of the
/// process that runs it. Relative paths are relative to the bundle directory, so that a copied bundle works
/// where it lands; absolute paths are kept as given (and do not travel with the bundle).
/// </summary>
public sealed record VmDefinition
{
    /// <summary>The <c>version</c> this build writes and reads; a newer file is refused, not guessed at.</summary>
    public const int CurrentVersion = 1;

    /// <summary>Default bound on the VM process's managed heap (see <see cref="GcHeapLimitMiB"/>).</summary>
    public const int DefaultGcHeapLimitMiB = 256;

    public const int DefaultStopTimeoutSeconds = 30;

    public required string Name { get; init; }
    public int Cpus { get; init; } = 1;
    public ulong MemoryMiB { get; init; } = MachineConfig.DefaultMemory >> 20;

    /// <summary><c>opensbi</c> (the host's Debian OpenSBI, as QEMU uses its bundled one), <c>builtin</c>,
    /// <c>none</c>, or a firmware file.</summary>
    public string Firmware { get; init; } = FirmwareOpenSbi;
    public string? Kernel { get; init; }
    public string? Initrd { get; init; }
    public string? Cmdline { get; init; }
    public IReadOnlyList<VmDrive> Drives { get; init; } = [];
    public IReadOnlyList<VmNetworkInterface> NetworkInterfaces { get; init; } = [];

    /// <summary>Extra virtio devices by their <c>--device</c> names.</summary>
    public IReadOnlyList<string> Devices { get; init; } = [];

    /// <summary><c>ttyS0</c>, <c>hvc0</c>, or null to follow the command line's last <c>console=</c>.</summary>
    public string? Console { get; init; }
    public bool Jit { get; init; } = true;

    /// <summary>The VM process's managed-heap bound (DOTNET_GCHeapHardLimit). Guest RAM is a native mapping
    /// of exactly <see cref="MemoryMiB"/> outside that heap, so the process's memory is bounded by the sum.</summary>
    public int GcHeapLimitMiB { get; init; } = DefaultGcHeapLimitMiB;

    /// <summary>How long <c>stop</c> waits for the guest to power off before forcing it.</summary>
    public int StopTimeoutSeconds { get; init; } = DefaultStopTimeoutSeconds;

    public const string FirmwareOpenSbi = "opensbi", FirmwareBuiltin = "builtin", FirmwareNone = "none";
}

/// <summary>A virtio-blk disk. <see cref="Id"/> names it in the API (<c>/drives/{id}</c>); order is slot order.</summary>
public sealed record VmDrive(string Id, string Path, string? Format = null, bool ReadOnly = false, string? Serial = null);

/// <summary>A virtio-net NIC: <c>tap</c> with an interface name, or <c>socket-listen</c>/<c>socket-connect</c>
/// with HOST:PORT.</summary>
public sealed record VmNetworkInterface(string Id, string Backend, string Address, string? Mac = null);
