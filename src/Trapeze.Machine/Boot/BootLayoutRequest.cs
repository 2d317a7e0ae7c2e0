namespace Trapeze.Machine.Boot;

/// <summary>What <see cref="BootLayout.Compute"/> needs to place kernel, initrd and device tree.</summary>
public sealed record BootLayoutRequest
{
    public required ulong RamBase { get; init; }

    public required ulong RamSize { get; init; }

    /// <summary>First byte of the firmware (RAM base for OpenSBI).</summary>
    public required ulong FirmwareStart { get; init; }

    /// <summary>
    /// QEMU's <c>firmware_end_addr</c>: <see cref="ElfImage.HighAddress"/> for an ELF firmware (bss included),
    /// load address + file size for a raw one. Equal to <see cref="FirmwareStart"/> when there is no firmware
    /// (QEMU's <c>-bios none</c>: the kernel then starts at the firmware address itself).
    /// </summary>
    public required ulong FirmwareEnd { get; init; }

    public string FirmwareName { get; init; } = "firmware";

    /// <summary>No kernel: nothing placed but the device tree (QEMU then hands the firmware a next address of 0).</summary>
    public KernelImage? Kernel { get; init; }

    /// <summary>0 when there is no initrd.</summary>
    public ulong InitrdSize { get; init; }

    public string InitrdName { get; init; } = "initrd";

    /// <summary>Size of the flattened device tree (<c>totalsize</c>).</summary>
    public required ulong FdtSize { get; init; }

    public string FdtName { get; init; } = "device tree";
}
