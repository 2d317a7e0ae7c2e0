namespace Trapeze.Machine.Boot;

/// <summary>
/// Where firmware, kernel, initrd and device tree go in RAM, reproducing QEMU 7.2's <c>virt</c> board
/// (hw/riscv/virt.c <c>virt_machine_done</c> with the helpers of hw/riscv/boot.c), with fit and overlap checks
/// that QEMU does not make.
/// </summary>
/// <remarks>
/// QEMU 7.2, RV64:
/// <list type="number">
/// <item>Firmware (<c>-bios</c>) at the DRAM base; the reset vector jumps to the DRAM base whatever the ELF's
///   entry. <c>firmware_end</c> = ELF <c>highaddr</c>, or load address + size for a binary.</item>
/// <item>Kernel start: <c>riscv_calc_kernel_start_addr</c> = <c>QEMU_ALIGN_UP(firmware_end, 2 MiB)</c>
///   (4 MiB on RV32). A non-ELF kernel (Linux Image, raw) is loaded there; an ELF kernel goes to its own
///   <c>p_paddr</c>s and the kernel entry handed to the firmware (fw_dynamic <c>next_addr</c>) is its lowest
///   load address, not <c>e_entry</c> (so that fw_dynamic matches fw_jump/BBL behaviour).</item>
/// <item>Initrd (<c>riscv_load_initrd</c>): at <c>kernel_entry + MIN(ram_size / 2, 128 MiB)</c> — half of RAM
///   below 256 MiB, 128 MiB above; relative to the kernel, with the whole RAM size.</item>
/// <item>Device tree (<c>riscv_load_fdt</c>): <c>end = dram_base &lt; 3 GiB ? MIN(dram_end, 3 GiB) : dram_end</c>,
///   then <c>QEMU_ALIGN_DOWN(end - fdt_size, 2 MiB)</c> (2 MiB since QEMU 7.1, 16 MiB before) — as high as
///   possible yet reachable by a 32-bit kernel. QEMU passes the unpacked tree's totalsize; any size up to
///   2 MiB gives the same address when RAM ends on a 2 MiB boundary.</item>
/// </list>
/// With 128 MiB at 0x80000000 and OpenSBI: kernel 0x80200000, initrd 0x84200000, FDT 0x87e00000;
/// with 256 MiB or more: initrd at 0x88200000.
/// </remarks>
public sealed class BootLayout
{
    /// <summary>RV64 kernel alignment (a PMD); QEMU uses 4 MiB for RV32.</summary>
    public const ulong KernelAlignment = 2 * BootFormat.MiB;

    public const ulong FdtAlignment = 2 * BootFormat.MiB;

    /// <summary>The FDT stays below 3 GiB when RAM starts below it, for 32-bit kernels.</summary>
    public const ulong FdtAddressLimit = 3 * BootFormat.GiB;

    public const ulong InitrdMaxDistance = 128 * BootFormat.MiB;

    private BootLayout()
    {
    }

    public ulong RamBase { get; private init; }

    public ulong RamEnd { get; private init; }

    public ulong FirmwareStart { get; private init; }

    public ulong FirmwareEnd { get; private init; }

    /// <summary>Null when the request had no kernel.</summary>
    public LoadPlan? KernelPlan { get; private init; }

    /// <summary>First byte the kernel occupies (0 without a kernel).</summary>
    public ulong KernelStart { get; private init; }

    /// <summary>First byte past the kernel, its bss included (Image <c>image_size</c>, ELF <c>highaddr</c>).</summary>
    public ulong KernelEnd { get; private init; }

    /// <summary>QEMU's <c>kernel_entry</c>: where the firmware jumps next (fw_dynamic <c>next_addr</c>); 0 without
    /// a kernel, as in QEMU.</summary>
    public ulong KernelEntry { get; private init; }

    public bool HasInitrd => InitrdEnd != InitrdStart;

    /// <summary>The initrd's address (<c>/chosen/linux,initrd-start</c>); 0 without an initrd.</summary>
    public ulong InitrdStart { get; private init; }

    /// <summary><c>/chosen/linux,initrd-end</c>.</summary>
    public ulong InitrdEnd { get; private init; }

    /// <summary>Where the device tree goes; passed in <c>a1</c>.</summary>
    public ulong FdtAddress { get; private init; }

    public ulong FdtEnd { get; private init; }

    /// <summary>QEMU's <c>riscv_calc_kernel_start_addr</c> for RV64.</summary>
    public static ulong KernelStartAddress(ulong firmwareEnd)
    {
        if (firmwareEnd > ulong.MaxValue - (KernelAlignment - 1))
        {
            throw new BootImageException($"firmware ends at {BootFormat.Hex(firmwareEnd)}: no room for a kernel above it");
        }

        return (firmwareEnd + KernelAlignment - 1) & ~(KernelAlignment - 1);
    }

    /// <summary>QEMU's <c>riscv_load_initrd</c> placement; null when the sum wraps.</summary>
    public static ulong? InitrdAddress(ulong kernelEntry, ulong ramSize)
    {
        ulong distance = Math.Min(ramSize / 2, InitrdMaxDistance);
        return distance > ulong.MaxValue - kernelEntry ? null : kernelEntry + distance;
    }

    /// <summary>QEMU's <c>riscv_load_fdt</c> placement; null when the tree cannot fit below the limit.</summary>
    public static ulong? FdtAddressFor(ulong ramBase, ulong ramEnd, ulong fdtSize)
    {
        ulong top = ramBase < FdtAddressLimit ? Math.Min(ramEnd, FdtAddressLimit) : ramEnd;
        if (fdtSize > top)
        {
            return null;
        }

        ulong address = (top - fdtSize) & ~(FdtAlignment - 1);
        return address < ramBase ? null : address;
    }

    /// <summary>
    /// Places everything and checks that each piece lies in RAM and overlaps no other; throws
    /// <see cref="BootImageException"/> naming the piece ("Image: does not fit in RAM: needs 0x... bytes at
    /// 0x80200000, RAM ends at 0x...", "initrd: overlaps Image: ...").
    /// </summary>
    public static BootLayout Compute(BootLayoutRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        ulong ramBase = request.RamBase;
        ulong ramEnd = BootFormat.RamEnd(ramBase, request.RamSize);
        if (request.FirmwareEnd < request.FirmwareStart)
        {
            throw new ArgumentException("firmware ends before it starts", nameof(request));
        }

        if (request.FdtSize == 0)
        {
            throw new ArgumentException("a device tree is required", nameof(request));
        }

        var placed = new List<Region>();
        if (request.FirmwareEnd != request.FirmwareStart)
        {
            placed.Add(new Region(request.FirmwareName, request.FirmwareStart, request.FirmwareEnd));
        }

        LoadPlan? kernelPlan = null;
        ulong kernelStart = 0, kernelEnd = 0, kernelEntry = 0;
        var kernel = request.Kernel;
        if (kernel is not null)
        {
            var kernelRegions = new List<Region>();
            if (kernel.Elf is { } elf)
            {
                kernelPlan = elf.Plan;
                kernelPlan.CheckFitsInRam(ramBase, request.RamSize);
                kernelStart = elf.LowAddress;
                kernelEnd = elf.HighAddress;
                kernelEntry = elf.LowAddress;
                foreach (var segment in elf.Segments)
                {
                    kernelRegions.Add(new Region(kernel.DisplayName, segment.Address, segment.End));
                }
            }
            else
            {
                kernelStart = KernelStartAddress(request.FirmwareEnd);
                ulong size = kernel.PlacedSize;
                BootFormat.CheckInRam(kernel.DisplayName, kernelStart, size, ramBase, ramEnd);
                kernelPlan = kernel.Linux is { } linux
                    ? linux.CreateLoadPlan(kernelStart)
                    : RawImage.CreateLoadPlan(kernel.DisplayName, kernel.File, kernelStart);
                kernelEnd = kernelStart + size;
                kernelEntry = kernelStart;
                kernelRegions.Add(new Region(kernel.DisplayName, kernelStart, kernelEnd));
            }

            foreach (var region in kernelRegions)
            {
                CheckOverlaps(region, placed);
            }

            placed.AddRange(kernelRegions);
        }

        ulong initrdStart = 0, initrdEnd = 0;
        if (request.InitrdSize != 0)
        {
            if (kernel is null)
            {
                throw BootImageException.For(request.InitrdName, "an initrd needs a kernel");
            }

            ulong start = InitrdAddress(kernelEntry, request.RamSize)
                ?? throw BootImageException.For(request.InitrdName,
                    $"does not fit in RAM: needs {BootFormat.Hex(request.InitrdSize)} bytes above {BootFormat.Hex(kernelEntry)}, RAM ends at {BootFormat.Hex(ramEnd)}");
            BootFormat.CheckInRam(request.InitrdName, start, request.InitrdSize, ramBase, ramEnd);
            initrdStart = start;
            initrdEnd = start + request.InitrdSize;
            var initrd = new Region(request.InitrdName, initrdStart, initrdEnd);
            CheckOverlaps(initrd, placed, SmallRamHint);
            placed.Add(initrd);
        }

        ulong fdtAddress = FdtAddressFor(ramBase, ramEnd, request.FdtSize)
            ?? throw BootImageException.For(request.FdtName,
                $"does not fit in RAM: needs {BootFormat.Hex(request.FdtSize)} bytes below {BootFormat.Hex(ramBase < FdtAddressLimit ? Math.Min(ramEnd, FdtAddressLimit) : ramEnd)}, RAM starts at {BootFormat.Hex(ramBase)}");
        var fdt = new Region(request.FdtName, fdtAddress, fdtAddress + request.FdtSize);
        CheckOverlaps(fdt, placed, SmallRamHint);

        return new BootLayout
        {
            RamBase = ramBase,
            RamEnd = ramEnd,
            FirmwareStart = request.FirmwareStart,
            FirmwareEnd = request.FirmwareEnd,
            KernelPlan = kernelPlan,
            KernelStart = kernelStart,
            KernelEnd = kernelEnd,
            KernelEntry = kernelEntry,
            InitrdStart = initrdStart,
            InitrdEnd = initrdEnd,
            FdtAddress = fdtAddress,
            FdtEnd = fdt.End,
        };
    }

    /// <summary>The initrd and the device tree are placed from the end of RAM down (as QEMU does), so when
    /// they collide with the images at the bottom, RAM is what is too small.</summary>
    private const string SmallRamHint = " (RAM is too small for this layout: give more with --mem)";

    private static void CheckOverlaps(Region region, List<Region> placed, string hint = "")
    {
        foreach (var other in placed)
        {
            if (BootFormat.Overlaps(region.Start, region.End, other.Start, other.End))
            {
                throw BootImageException.For(region.Name,
                    $"overlaps {other.Name}: {BootFormat.Range(region.Start, region.End)} and {BootFormat.Range(other.Start, other.End)}{hint}");
            }
        }
    }

    public override string ToString() =>
        $"kernel {BootFormat.Range(KernelStart, KernelEnd)} entry {BootFormat.Hex(KernelEntry)}, initrd {BootFormat.Range(InitrdStart, InitrdEnd)}, fdt {BootFormat.Hex(FdtAddress)}";

    private readonly record struct Region(string Name, ulong Start, ulong End);
}
