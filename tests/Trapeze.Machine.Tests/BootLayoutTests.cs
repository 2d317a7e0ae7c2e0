using Trapeze.Machine.Boot;

namespace Trapeze.Machine.Tests;

/// <summary>Placement as QEMU 7.2's virt board does it, and the checks QEMU does not make.</summary>
public sealed class BootLayoutTests
{
    private const ulong Mib = 1UL << 20;
    private const ulong OpenSbiEnd = 0x8004_5ac8; // Debian's fw_dynamic.elf highaddr (bss included)

    private static KernelImage Image(ulong imageSize = 20 * Mib, int fileLength = 4096) =>
        KernelImage.Identify("Image", LinuxImageTests.SyntheticImage(fileLength, imageSize));

    private static BootLayoutRequest Request(ulong ramSize, KernelImage? kernel, ulong initrd = 0, ulong fdt = 0x2000,
        ulong firmwareEnd = OpenSbiEnd) => new()
    {
        RamBase = 0x8000_0000,
        RamSize = ramSize,
        FirmwareStart = 0x8000_0000,
        FirmwareEnd = firmwareEnd,
        FirmwareName = "fw_dynamic.elf",
        Kernel = kernel,
        InitrdSize = initrd,
        FdtSize = fdt,
    };

    [Fact]
    public void Qemu_default_128_MiB()
    {
        var layout = BootLayout.Compute(Request(128 * Mib, Image(), initrd: 10 * Mib));

        Assert.Equal(0x8020_0000UL, layout.KernelStart);
        Assert.Equal(0x8020_0000UL, layout.KernelEntry);
        Assert.Equal(0x8020_0000UL + 20 * Mib, layout.KernelEnd);
        Assert.Equal(0x8420_0000UL, layout.InitrdStart); // kernel + 128 MiB / 2
        Assert.Equal(0x8420_0000UL + 10 * Mib, layout.InitrdEnd);
        Assert.True(layout.HasInitrd);
        Assert.Equal(0x87e0_0000UL, layout.FdtAddress);
        Assert.Equal(0x87e0_2000UL, layout.FdtEnd);
        Assert.Equal(0x8800_0000UL, layout.RamEnd);
        var segment = Assert.Single(layout.KernelPlan!.Segments);
        Assert.Equal(0x8020_0000UL, segment.Address);
        Assert.Equal(4096UL, segment.MemorySize); // only the file is copied; the kernel clears its own bss
    }

    [Theory]
    [InlineData(256UL, 0x8820_0000UL, 0x8fe0_0000UL)]
    [InlineData(1024UL, 0x8820_0000UL, 0xbfe0_0000UL)]
    [InlineData(2048UL, 0x8820_0000UL, 0xbfe0_0000UL)] // RAM ends at 4 GiB: the FDT stays below 3 GiB
    [InlineData(8192UL, 0x8820_0000UL, 0xbfe0_0000UL)]
    [InlineData(64UL, 0x8220_0000UL, 0x83e0_0000UL)]
    public void Initrd_and_fdt_follow_ram_size(ulong ramMib, ulong initrd, ulong fdt)
    {
        var layout = BootLayout.Compute(Request(ramMib * Mib, Image(imageSize: 8 * Mib), initrd: 4 * Mib));
        Assert.Equal(initrd, layout.InitrdStart);
        Assert.Equal(fdt, layout.FdtAddress);
    }

    [Fact]
    public void Fdt_with_qemus_unpacked_1_MiB_size_lands_at_the_same_place()
    {
        Assert.Equal(0x87e0_0000UL, BootLayout.Compute(Request(128 * Mib, Image(), fdt: Mib)).FdtAddress);
        Assert.Equal(0x87c0_0000UL, BootLayout.Compute(Request(128 * Mib, Image(), fdt: 2 * Mib + 1)).FdtAddress);
    }

    [Fact]
    public void Ram_above_3_GiB_puts_the_fdt_at_its_end()
    {
        Assert.Equal(0x1_3fe0_0000UL, BootLayout.FdtAddressFor(0x1_0000_0000, 0x1_4000_0000, 0x2000));
        Assert.Equal(0xbfe0_0000UL, BootLayout.FdtAddressFor(0x8000_0000, 0x1_4000_0000, 0x2000));
        Assert.Equal(0x8000_0000UL, BootLayout.FdtAddressFor(0x8000_0000, 0x8010_0000, 0x2000));
        Assert.Null(BootLayout.FdtAddressFor(0x8010_0000, 0x8020_0000, 0x2000)); // aligned down below RAM
        Assert.Null(BootLayout.FdtAddressFor(0, 0x1000, 0x2000));
    }

    [Theory]
    [InlineData(0x8000_0000UL, 0x8000_0000UL)] // -bios none: the kernel starts where firmware would
    [InlineData(0x8000_0001UL, 0x8020_0000UL)]
    [InlineData(OpenSbiEnd, 0x8020_0000UL)]
    [InlineData(0x8020_0000UL, 0x8020_0000UL)]
    [InlineData(0x8028_0000UL, 0x8040_0000UL)] // firmware over 2 MiB pushes the kernel up
    public void Kernel_start_is_the_firmware_end_rounded_up_to_2_MiB(ulong firmwareEnd, ulong kernelStart)
    {
        Assert.Equal(kernelStart, BootLayout.KernelStartAddress(firmwareEnd));
        Assert.Equal(kernelStart, BootLayout.Compute(Request(128 * Mib, Image(), firmwareEnd: firmwareEnd)).KernelStart);
    }

    [Fact]
    public void Helpers_refuse_wrapping()
    {
        Assert.Throws<BootImageException>(() => BootLayout.KernelStartAddress(ulong.MaxValue - 5));
        Assert.Null(BootLayout.InitrdAddress(ulong.MaxValue - 5, 1024 * Mib));
        Assert.Equal(0x8020_0000UL + 128 * Mib, BootLayout.InitrdAddress(0x8020_0000, 4096 * Mib));
    }

    [Fact]
    public void Elf_kernel_stays_at_its_addresses_and_enters_at_its_lowest()
    {
        var builder = new ElfFileBuilder { Entry = 0x8020_1000 };
        builder.AddSegment(0x8020_0000, new byte[0x2000], 0x3000);
        builder.AddSegment(0x8030_0000, new byte[0x100], 0x100);
        var kernel = KernelImage.Identify("kernel.elf", builder.Build().Bytes);
        var layout = BootLayout.Compute(Request(256 * Mib, kernel, initrd: Mib));

        Assert.Equal(KernelImageFormat.Elf, kernel.Format);
        Assert.Equal(0x8020_0000UL, layout.KernelEntry); // QEMU 7.2: lowaddr, not e_entry
        Assert.Equal(0x8020_1000UL, layout.KernelPlan!.EntryPoint);
        Assert.Equal(0x8030_0100UL, layout.KernelEnd);
        Assert.Equal(0x8820_0000UL, layout.InitrdStart);
    }

    [Fact]
    public void Kernel_too_big_for_ram()
    {
        var error = Assert.Throws<BootImageException>(() => BootLayout.Compute(Request(64 * Mib, Image(imageSize: 80 * Mib))));
        Assert.Equal("Image: does not fit in RAM: needs 0x5000000 bytes at 0x80200000, RAM ends at 0x84000000", error.Message);
    }

    [Fact]
    public void Elf_kernel_outside_ram()
    {
        var builder = new ElfFileBuilder();
        builder.AddSegment(0x4000_0000, new byte[16], 16);
        var kernel = KernelImage.Identify("kernel.elf", builder.Build().Bytes);
        Assert.Equal("kernel.elf: does not fit in RAM: needs 0x10 bytes at 0x40000000, RAM starts at 0x80000000",
            Assert.Throws<BootImageException>(() => BootLayout.Compute(Request(128 * Mib, kernel))).Message);
    }

    [Fact]
    public void Elf_kernel_over_the_firmware()
    {
        var builder = new ElfFileBuilder();
        builder.AddSegment(0x8004_0000, new byte[16], 0x1_0000);
        var kernel = KernelImage.Identify("kernel.elf", builder.Build().Bytes);
        Assert.Equal("kernel.elf: overlaps fw_dynamic.elf: [0x80040000, 0x80050000) and [0x80000000, 0x80045ac8)",
            Assert.Throws<BootImageException>(() => BootLayout.Compute(Request(128 * Mib, kernel))).Message);
    }

    [Fact]
    public void Kernel_bss_reaching_the_initrd()
    {
        // 64 MiB of RAM: the initrd goes 32 MiB above the kernel, inside a 40 MiB image_size.
        var error = Assert.Throws<BootImageException>(() =>
            BootLayout.Compute(Request(64 * Mib, Image(imageSize: 40 * Mib), initrd: Mib)));
        Assert.Equal("initrd: overlaps Image: [0x82200000, 0x82300000) and [0x80200000, 0x82a00000) (RAM is too small for this layout: give more with --mem)", error.Message);
    }

    [Fact]
    public void Initrd_too_big_for_ram()
    {
        var error = Assert.Throws<BootImageException>(() => BootLayout.Compute(Request(128 * Mib, Image(), initrd: 100 * Mib)));
        Assert.Equal("initrd: does not fit in RAM: needs 0x6400000 bytes at 0x84200000, RAM ends at 0x88000000", error.Message);
    }

    [Fact]
    public void Initrd_reaching_the_fdt()
    {
        // Exactly up to the FDT is fine; one more MiB is not.
        var fits = BootLayout.Compute(Request(128 * Mib, Image(), initrd: 60 * Mib));
        Assert.Equal(fits.FdtAddress, fits.InitrdEnd);
        var error = Assert.Throws<BootImageException>(() => BootLayout.Compute(Request(128 * Mib, Image(), initrd: 61 * Mib)));
        Assert.Equal("device tree: overlaps initrd: [0x87e00000, 0x87e02000) and [0x84200000, 0x87f00000) (RAM is too small for this layout: give more with --mem)", error.Message);
    }

    [Fact]
    public void Fdt_larger_than_ram()
    {
        var error = Assert.Throws<BootImageException>(() => BootLayout.Compute(Request(4 * Mib, null, fdt: 8 * Mib)));
        Assert.Equal("device tree: does not fit in RAM: needs 0x800000 bytes below 0x80400000, RAM starts at 0x80000000", error.Message);
    }

    [Fact]
    public void Fdt_over_the_kernel()
    {
        var error = Assert.Throws<BootImageException>(() => BootLayout.Compute(Request(16 * Mib, Image(imageSize: 13 * Mib))));
        Assert.Equal("device tree: overlaps Image: [0x80e00000, 0x80e02000) and [0x80200000, 0x80f00000) (RAM is too small for this layout: give more with --mem)", error.Message);
    }

    [Fact]
    public void Without_a_kernel_only_the_fdt_is_placed()
    {
        var layout = BootLayout.Compute(Request(128 * Mib, null));
        Assert.Null(layout.KernelPlan);
        Assert.Equal(0UL, layout.KernelEntry);
        Assert.False(layout.HasInitrd);
        Assert.Equal(0x87e0_0000UL, layout.FdtAddress);
        Assert.Equal("initrd: an initrd needs a kernel",
            Assert.Throws<BootImageException>(() => BootLayout.Compute(Request(128 * Mib, null, initrd: 1))).Message);
    }

    [Fact]
    public void Raw_kernel_is_placed_like_an_image()
    {
        var kernel = KernelImage.Identify("u-boot.bin", new byte[0x1000]);
        Assert.Equal(KernelImageFormat.Raw, kernel.Format);
        var layout = BootLayout.Compute(Request(128 * Mib, kernel));
        Assert.Equal(0x8020_0000UL, layout.KernelEntry);
        Assert.Equal(0x8020_1000UL, layout.KernelEnd);
    }

    [Fact]
    public void Kernel_identification()
    {
        Assert.Equal(KernelImageFormat.LinuxImage, Image().Format);
        Assert.Equal(20 * Mib, Image().PlacedSize);
        Assert.Equal("k: empty file", Assert.Throws<BootImageException>(() => KernelImage.Identify("k", ReadOnlyMemory<byte>.Empty)).Message);

        // An ELF for another machine is an error, not a raw binary (QEMU would load it raw).
        var x86 = ElfFileBuilder.Sample();
        x86.Machine = 62;
        Assert.Equal("bzImage.elf: not a RISC-V ELF (e_machine 62)",
            Assert.Throws<BootImageException>(() => KernelImage.Identify("bzImage.elf", x86.Build().Bytes)).Message);
    }

    [Fact]
    public void Request_sanity_is_a_programming_error()
    {
        Assert.Throws<ArgumentException>(() => BootLayout.Compute(Request(128 * Mib, null, fdt: 0)));
        Assert.Throws<ArgumentException>(() => BootLayout.Compute(Request(128 * Mib, null) with { FirmwareEnd = 0x7000_0000 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => BootLayout.Compute(Request(0, null)));
    }
}
