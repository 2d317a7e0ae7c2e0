using Trapeze.Machine.Boot;

namespace Trapeze.Machine.Tests;

public sealed class LinuxImageTests
{
    /// <summary>A header as a 6.x RV64 kernel with EFI stub writes it, followed by some "code".</summary>
    internal static byte[] SyntheticImage(int length = 4096, ulong imageSize = 0x0140_0000, bool efi = true,
        bool magic = true, bool magic2 = true, ulong flags = 0)
    {
        var bytes = new byte[length];
        if (efi)
        {
            bytes[0] = (byte)'M';
            bytes[1] = (byte)'Z';
        }
        else
        {
            Poke.U32(bytes, 0, 0x0000_0013); // nop
        }

        Poke.U32(bytes, 4, 0x1234_5678);
        Poke.U64(bytes, 8, 0x20_0000);
        Poke.U64(bytes, 16, imageSize);
        Poke.U64(bytes, 24, flags);
        Poke.U32(bytes, 32, 0x0000_0002);
        if (magic)
        {
            "RISCV\0\0\0"u8.CopyTo(bytes.AsSpan(48));
        }

        if (magic2)
        {
            "RSC\u0005"u8.CopyTo(bytes.AsSpan(56));
        }

        Poke.U32(bytes, 60, 0x40);
        for (int i = 64; i < length; i++)
        {
            bytes[i] = (byte)i;
        }

        return bytes;
    }

    [Fact]
    public void Parses_every_header_field()
    {
        var bytes = SyntheticImage();
        Assert.True(LinuxImage.TryParse("Image", bytes, out var image));

        Assert.Equal(0x5a4dU & 0xffff, image.Code0 & 0xffff);
        Assert.Equal(0x1234_5678U, image.Code1);
        Assert.Equal(0x20_0000UL, image.TextOffset);
        Assert.Equal(0x0140_0000UL, image.ImageSize);
        Assert.Equal(0UL, image.Flags);
        Assert.Equal(2U, image.Version);
        Assert.Equal((ushort)0, image.VersionMajor);
        Assert.Equal((ushort)2, image.VersionMinor);
        Assert.True(image.HasDeprecatedMagic);
        Assert.True(image.HasMagic2);
        Assert.True(image.IsEfiStub);
        Assert.Equal(0x40U, image.PeHeaderOffset);
        Assert.Equal(0x0140_0000UL, image.MemorySize);
        Assert.Equal("Image: RISC-V Image v0.2, text_offset 0x200000, image_size 0x1400000, EFI stub", image.ToString());
    }

    [Fact]
    public void Either_magic_is_enough()
    {
        Assert.True(LinuxImage.TryParse("a", SyntheticImage(magic: false), out var onlyNew));
        Assert.False(onlyNew.HasDeprecatedMagic);
        Assert.True(LinuxImage.TryParse("b", SyntheticImage(magic2: false, efi: false), out var onlyOld));
        Assert.False(onlyOld.HasMagic2);
        Assert.False(onlyOld.IsEfiStub);
    }

    [Fact]
    public void Files_without_the_header_are_not_images()
    {
        Assert.False(LinuxImage.TryParse("x", SyntheticImage(magic: false, magic2: false), out _));
        Assert.False(LinuxImage.TryParse("x", new byte[63], out _));
        Assert.False(LinuxImage.TryParse("x", ReadOnlyMemory<byte>.Empty, out _));
        Assert.Equal("x: not a RISC-V Linux Image (no \"RSC\\x05\" magic at offset 56)",
            Assert.Throws<BootImageException>(() => LinuxImage.Parse("x", new byte[100])).Message);
        Assert.Equal("x: not a RISC-V Linux Image: header needs 64 bytes, file is 10 bytes",
            Assert.Throws<BootImageException>(() => LinuxImage.Parse("x", new byte[10])).Message);
    }

    [Fact]
    public void Big_endian_kernel_is_refused()
    {
        Assert.Equal("Image: big-endian kernel (Image header flags 0x1) is not supported",
            Assert.Throws<BootImageException>(() => LinuxImage.TryParse("Image", SyntheticImage(flags: 1), out _)).Message);
    }

    [Fact]
    public void Memory_size_is_the_larger_of_file_and_image_size()
    {
        Assert.Equal(4096UL, LinuxImage.Parse("old", SyntheticImage(imageSize: 0)).MemorySize);
        Assert.Equal(8192UL, LinuxImage.Parse("signed", SyntheticImage(length: 8192, imageSize: 4096)).MemorySize);
    }

    [Fact]
    public void Load_plan_puts_the_whole_file_at_the_address_and_enters_at_its_start()
    {
        var bytes = SyntheticImage();
        var plan = LinuxImage.Parse("Image", bytes).CreateLoadPlan(0x8020_0000);
        Assert.Equal(0x8020_0000UL, plan.EntryPoint);
        var segment = Assert.Single(plan.Segments);
        Assert.Equal(0x8020_0000UL, segment.Address);
        Assert.Equal((ulong)bytes.Length, segment.MemorySize);
        Assert.True(segment.Data.Span.SequenceEqual(bytes));
    }

    [RealKernelImageFact]
    public void Real_kernel_image_header()
    {
        string path = RealKernelImageFactAttribute.Find()!;
        var bytes = File.ReadAllBytes(path);
        var kernel = KernelImage.Identify(Path.GetFileName(path), bytes);
        var layout = BootLayout.Compute(new BootLayoutRequest
        {
            RamBase = 0x8000_0000,
            RamSize = 1UL << 30,
            FirmwareStart = 0x8000_0000,
            FirmwareEnd = 0x8004_5ac8,
            Kernel = kernel,
            InitrdSize = 16UL << 20,
            FdtSize = 0x2000,
        });

        if (kernel.Format == KernelImageFormat.Elf)
        {
            // An ELF vmlinux: loaded at its physical addresses, entered at the lowest.
            Assert.Equal(kernel.Elf!.LowAddress, layout.KernelEntry);
            return;
        }

        Assert.Equal(KernelImageFormat.LinuxImage, kernel.Format);
        var image = kernel.Linux!;
        Assert.True(image.HasMagic2);
        Assert.Equal(0x20_0000UL, image.TextOffset);
        Assert.True(image.ImageSize >= (ulong)bytes.Length / 2);
        Assert.Equal(0x8020_0000UL, layout.KernelStart);
        Assert.Equal(0x8820_0000UL, layout.InitrdStart);
    }
}

/// <summary>Runs a test on a real RISC-V kernel when this machine has one: <c>TRAPEZE_TEST_KERNEL_IMAGE</c>, or
/// Debian's <c>/boot/vmlinu*-riscv64</c> (package linux-image-*-riscv64); skipped otherwise.</summary>
public sealed class RealKernelImageFactAttribute : FactAttribute
{
    public RealKernelImageFactAttribute()
    {
        if (Find() is null)
        {
            Skip = "no RISC-V kernel Image on this machine (set TRAPEZE_TEST_KERNEL_IMAGE)";
        }
    }

    public static string? Find()
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("TRAPEZE_TEST_KERNEL_IMAGE") is { Length: > 0 } fromEnvironment)
        {
            candidates.Add(fromEnvironment);
        }

        if (Directory.Exists("/boot"))
        {
            candidates.AddRange(Directory.GetFiles("/boot", "vmlinu*-riscv64"));
        }

        return candidates.FirstOrDefault(File.Exists);
    }
}
