namespace Trapeze.Devices.Fdt;

/// <summary>What the board tells <see cref="VirtDeviceTree"/> about the machine besides its devices.</summary>
public sealed record VirtDeviceTreeOptions
{
    /// <summary>Number of harts; hart ids are 0 .. HartCount-1.</summary>
    public required int HartCount { get; init; }

    /// <summary>The <c>riscv,isa</c> string of every hart: exactly what is implemented
    /// (e.g. "rv64imafdc_zicsr_zifencei_sstc").</summary>
    public required string RiscvIsa { get; init; }

    /// <summary>"riscv,sv39", "riscv,sv48" or "riscv,sv57" (QEMU 7.2 virt says sv48).</summary>
    public string MmuType { get; init; } = "riscv,sv48";

    public uint TimebaseFrequency { get; init; } = 10_000_000;

    public ulong MemoryBase { get; init; } = 0x8000_0000;

    public required ulong MemorySize { get; init; }

    /// <summary>Kernel command line (<c>/chosen/bootargs</c>); omitted when null.</summary>
    public string? BootArgs { get; init; }

    /// <summary>Console path (<c>/chosen/stdout-path</c>), e.g. "/soc/serial@10000000"; omitted when null.</summary>
    public string? StdoutPath { get; init; }

    /// <summary>Guest-physical [start, end) of the initrd; omitted when null.</summary>
    public (ulong Start, ulong End)? Initrd { get; init; }

    /// <summary>Entropy for the guest kernel (<c>/chosen/rng-seed</c>, QEMU passes 32 bytes); omitted when null.</summary>
    public byte[]? RngSeed { get; init; }
}

/// <summary>A device and the address the board maps it at.</summary>
public readonly record struct DeviceTreeDevice(ulong BaseAddress, IDeviceTreeNode Device);

/// <summary>
/// The device tree of the QEMU-<c>virt</c>-compatible board: root, <c>/chosen</c>, <c>/memory</c>,
/// <c>/cpus</c> and <c>/soc</c>, into which every device writes its own node. Node names, properties and
/// phandle numbering follow <c>qemu-system-riscv64 -M virt</c> 7.2, so a dump diffs cleanly against QEMU's.
/// </summary>
public static class VirtDeviceTree
{
    /// <summary>Builds the whole DTB. <paramref name="devices"/> are written into <c>/soc</c> in order;
    /// the interrupt controller (PLIC) is expected among them and takes phandle
    /// <see cref="DeviceTreeContext.InterruptParent"/>.</summary>
    public static byte[] Build(VirtDeviceTreeOptions options, IEnumerable<DeviceTreeDevice> devices)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(devices);
        var fdt = new FdtBuilder();
        AddRootProperties(fdt);
        AddChosen(fdt, options);
        AddMemory(fdt, options.MemoryBase, options.MemorySize);
        IReadOnlyList<uint> intc = AddCpus(fdt, options.HartCount, options.RiscvIsa, options.MmuType, options.TimebaseFrequency);
        // QEMU allocates the PLIC's phandle right after the CPUs'.
        uint plic = fdt.AllocatePhandle();
        var context = new DeviceTreeContext(0, plic, intc);

        BeginSoc(fdt);
        foreach (DeviceTreeDevice device in devices)
            device.Device.AddTo(fdt, context.At(device.BaseAddress));
        fdt.EndNode();
        return fdt.Build();
    }

    public static void AddRootProperties(FdtBuilder fdt)
    {
        fdt.PropertyU32("#address-cells", 2);
        fdt.PropertyU32("#size-cells", 2);
        fdt.PropertyString("compatible", "riscv-virtio");
        fdt.PropertyString("model", "riscv-virtio,qemu");
    }

    public static void AddChosen(FdtBuilder fdt, VirtDeviceTreeOptions options)
    {
        fdt.BeginNode("chosen");
        if (options.RngSeed is { } seed) fdt.Property("rng-seed", seed);
        if (options.StdoutPath is { } stdout) fdt.PropertyString("stdout-path", stdout);
        if (options.BootArgs is { } bootargs) fdt.PropertyString("bootargs", bootargs);
        if (options.Initrd is { } initrd)
        {
            fdt.PropertyU64("linux,initrd-start", initrd.Start);
            fdt.PropertyU64("linux,initrd-end", initrd.End);
        }
        fdt.EndNode();
    }

    public static void AddMemory(FdtBuilder fdt, ulong baseAddress, ulong size)
    {
        fdt.BeginNode($"memory@{baseAddress:x}");
        fdt.PropertyString("device_type", "memory");
        fdt.PropertyCells("reg", baseAddress, size);
        fdt.EndNode();
    }

    /// <summary>
    /// Adds <c>/cpus</c> with one <c>cpu@N</c> per hart (each with its <c>riscv,cpu-intc</c> child) and
    /// <c>cpu-map</c>. Returns the phandle of each hart's interrupt controller, indexed by hart id.
    /// Phandles are numbered as QEMU does: from the last hart down (cpu@N-1 = 1, its intc = 2, ...).
    /// </summary>
    public static IReadOnlyList<uint> AddCpus(FdtBuilder fdt, int hartCount, string isa, string mmuType,
        uint timebaseFrequency = 10_000_000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(hartCount, 1);
        var cpuPhandles = new uint[hartCount];
        var intcPhandles = new uint[hartCount];
        for (int hart = hartCount - 1; hart >= 0; hart--)
        {
            cpuPhandles[hart] = fdt.AllocatePhandle();
            intcPhandles[hart] = fdt.AllocatePhandle();
        }

        fdt.BeginNode("cpus");
        fdt.PropertyU32("#address-cells", 1);
        fdt.PropertyU32("#size-cells", 0);
        fdt.PropertyU32("timebase-frequency", timebaseFrequency);
        for (int hart = 0; hart < hartCount; hart++)
        {
            fdt.BeginNode($"cpu@{hart:x}");
            fdt.PropertyU32("phandle", cpuPhandles[hart]);
            fdt.PropertyString("device_type", "cpu");
            fdt.PropertyU32("reg", (uint)hart);
            fdt.PropertyString("status", "okay");
            fdt.PropertyString("compatible", "riscv");
            fdt.PropertyString("riscv,isa", isa);
            fdt.PropertyString("mmu-type", mmuType);
            fdt.BeginNode("interrupt-controller");
            fdt.PropertyU32("#interrupt-cells", 1);
            fdt.PropertyEmpty("interrupt-controller");
            fdt.PropertyString("compatible", "riscv,cpu-intc");
            fdt.PropertyU32("phandle", intcPhandles[hart]);
            fdt.EndNode();
            fdt.EndNode();
        }
        fdt.BeginNode("cpu-map");
        fdt.BeginNode("cluster0");
        for (int hart = 0; hart < hartCount; hart++)
        {
            fdt.BeginNode($"core{hart}");
            fdt.PropertyU32("cpu", cpuPhandles[hart]);
            fdt.EndNode();
        }
        fdt.EndNode();
        fdt.EndNode();
        fdt.EndNode();
        return intcPhandles;
    }

    /// <summary>Opens <c>/soc</c> (a simple-bus with identity ranges); the caller closes it.</summary>
    public static void BeginSoc(FdtBuilder fdt)
    {
        fdt.BeginNode("soc");
        fdt.PropertyU32("#address-cells", 2);
        fdt.PropertyU32("#size-cells", 2);
        fdt.PropertyString("compatible", "simple-bus");
        fdt.PropertyEmpty("ranges");
    }
}
