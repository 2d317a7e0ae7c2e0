namespace Trapeze.Machine;

/// <summary>What runs in M-mode before the kernel.</summary>
public enum FirmwareKind
{
    /// <summary>No firmware: the ROM jumps straight to the kernel (or bare-metal program) in M-mode.</summary>
    None,
    /// <summary>A firmware file (OpenSBI fw_dynamic / fw_jump, as ELF or raw binary) at the base of DRAM.</summary>
    File,
    /// <summary>The monitor's own SBI: the kernel starts in S-mode and its ECALLs are hypercalls.</summary>
    Builtin,
}

/// <summary>The configuration of one virt machine, as the CLI, the API and bundles describe it.</summary>
public sealed record MachineConfig
{
    public const ulong DefaultMemory = 512UL << 20;
    public const int MaxHarts = 64;

    public ulong MemorySize { get; init; } = DefaultMemory;
    public int Harts { get; init; } = 1;
    public FirmwareKind Firmware { get; init; } = FirmwareKind.File;
    public string? FirmwarePath { get; init; }
    public string? KernelPath { get; init; }
    public string? InitrdPath { get; init; }
    public string? BootArgs { get; init; }

    /// <summary>Translate hot code (tier 1); false interprets only (--no-jit).</summary>
    public bool Jit { get; init; } = true;

    /// <summary>Executions before a block is translated.</summary>
    public int JitThreshold { get; init; } = Trapeze.Jit.Translator.DefaultThreshold;

    /// <summary>Translate on the hart's own thread at once (deterministic: tests and lockstep runs).</summary>
    public bool JitSynchronous { get; init; }

    /// <summary>virtio-blk disks, in slot order (the first is the guest's vda).</summary>
    public IReadOnlyList<DiskConfig> Disks { get; init; } = [];

    /// <summary>virtio-net NICs, placed after the disks (the first is the guest's eth0).</summary>
    public IReadOnlyList<NetConfig> Nets { get; init; } = [];

    /// <summary>Other virtio devices, placed after the disks and NICs. The library adds none by default (as QEMU's
    /// virt board); the CLI adds its defaults here.</summary>
    public IReadOnlyList<VirtioDeviceKind> VirtioDevices { get; init; } = [];

    /// <summary>Which device host keyboard input goes to.</summary>
    public ConsoleDevice InputConsole { get; init; } = ConsoleDevice.Serial;

    /// <summary>virtio-mmio slots on the board (QEMU virt's VIRTIO_COUNT).</summary>
    public const int VirtioSlots = 8;

    /// <summary>Check every Nth translated region run against the interpreter (0: off). Needs one hart and
    /// the translator; translation is then synchronous.</summary>
    public int Lockstep { get; init; }

    /// <summary>Debian's OpenSBI, used when no firmware is named (as QEMU uses its bundled OpenSBI).</summary>
    public const string DebianOpenSbi = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin";
}

/// <summary>How a virtio-net NIC reaches the host.</summary>
public enum NetBackendKind
{
    /// <summary>A TCP stream in QEMU's -netdev socket framing; this side listens.</summary>
    SocketListen,
    /// <summary>The same, connecting to a listener.</summary>
    SocketConnect,
    /// <summary>A Linux TAP interface.</summary>
    Tap,
}

/// <summary>A virtio-net NIC.</summary>
/// <param name="Backend">Where its frames go.</param>
/// <param name="Address">host:port for the socket backends, the interface name for TAP.</param>
/// <param name="Mac">The NIC's address (6 bytes), or null for a generated 52:54:00:xx:xx:xx.</param>
public sealed record NetConfig(NetBackendKind Backend, string Address, byte[]? Mac = null);

/// <summary>A virtio-blk disk backed by an image file.</summary>
/// <param name="Path">The image file.</param>
/// <param name="ReadOnly">Open the file read-only and offer VIRTIO_BLK_F_RO.</param>
/// <param name="Format">"raw", "qcow2", or null to probe (the qcow2 magic means qcow2; a probed raw image
/// refuses guest writes of that magic to its first sector).</param>
/// <param name="Serial">The serial number the guest reads (GET_ID), up to 20 ASCII characters.</param>
/// <param name="AllowExternalBacking">Let a qcow2 image name a backing file outside its own directory.</param>
public sealed record DiskConfig(string Path, bool ReadOnly = false, string? Format = null, string? Serial = null,
    bool AllowExternalBacking = false);

/// <summary>The virtio devices besides disks that a machine can have.</summary>
public enum VirtioDeviceKind
{
    /// <summary>virtio-rng: entropy from the host's CSPRNG.</summary>
    Rng,
    /// <summary>virtio-console: the guest's hvc0, on the same host console as the UART.</summary>
    Console,
}

/// <summary>Where host keyboard input goes.</summary>
public enum ConsoleDevice
{
    /// <summary>The NS16550A UART (the guest's ttyS0).</summary>
    Serial,
    /// <summary>The first virtio-console (hvc0) once its driver is running; the UART before that, so that
    /// firmware and boot loader prompts still get keys.</summary>
    Virtio,
}
