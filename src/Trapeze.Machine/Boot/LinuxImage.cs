using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;

namespace Trapeze.Machine.Boot;

/// <summary>
/// A RISC-V Linux <c>Image</c>: the flat kernel binary with the 64-byte header of the kernel's
/// Documentation/arch/riscv/boot-image-header.rst (all fields little-endian):
/// <code>
///  0  u32 code0        executable code ("MZ..." when the kernel has an EFI stub)
///  4  u32 code1        executable code
///  8  u64 text_offset  image load offset from the start of RAM (0x200000 on RV64)
/// 16  u64 image_size   effective image size, bss included
/// 24  u64 flags        bit 0: big-endian kernel
/// 32  u32 version      bits 31:16 major, 15:0 minor (0.2 current)
/// 36  u32 res1
/// 40  u64 res2
/// 48  u64 magic        "RISCV\0\0\0" (deprecated since header 0.2)
/// 56  u32 magic2       "RSC\x05"
/// 60  u32 res3         offset of the PE/COFF header (EFI stub)
/// </code>
/// Debian's kernel is such an Image that is also a PE/COFF EFI application ("MZ" at 0); for a direct boot only
/// the RISC-V header matters.
/// </summary>
/// <remarks>
/// Where it goes: QEMU 7.2 does not read this header at all. <c>riscv_load_kernel</c> (hw/riscv/boot.c) tries
/// ELF, then U-Boot uImage, and otherwise loads the file raw with <c>load_image_targphys</c> at
/// <c>kernel_start_addr = riscv_calc_kernel_start_addr(firmware_end)</c>, i.e. the end of the firmware rounded
/// up to 2 MiB (4 MiB for RV32) — see <see cref="BootLayout"/>. With OpenSBI at 0x80000000 (under 2 MiB) that is
/// 0x80200000, which equals RAM base + <see cref="TextOffset"/>; a firmware of more than 2 MiB pushes the kernel
/// further up. The kernel only requires a 2 MiB-aligned (PMD) load address (Documentation/arch/riscv/boot.rst),
/// which both rules give. <see cref="ImageSize"/> covers the bss the kernel clears itself, so it is what must be
/// free of initrd and device tree, even though only the file bytes are copied.
/// </remarks>
public sealed class LinuxImage
{
    public const int HeaderSize = 64;
    public const ulong FlagBigEndian = 1;

    private LinuxImage(string displayName, ReadOnlyMemory<byte> file)
    {
        DisplayName = displayName;
        File = file;
        ReadOnlySpan<byte> h = file.Span;
        Code0 = BinaryPrimitives.ReadUInt32LittleEndian(h);
        Code1 = BinaryPrimitives.ReadUInt32LittleEndian(h[4..]);
        TextOffset = BinaryPrimitives.ReadUInt64LittleEndian(h[8..]);
        ImageSize = BinaryPrimitives.ReadUInt64LittleEndian(h[16..]);
        Flags = BinaryPrimitives.ReadUInt64LittleEndian(h[24..]);
        Version = BinaryPrimitives.ReadUInt32LittleEndian(h[32..]);
        HasDeprecatedMagic = h.Slice(48, 8).SequenceEqual(Magic);
        HasMagic2 = h.Slice(56, 4).SequenceEqual(Magic2);
        PeHeaderOffset = BinaryPrimitives.ReadUInt32LittleEndian(h[60..]);
        IsEfiStub = h[0] == (byte)'M' && h[1] == (byte)'Z';
    }

    /// <summary>Deprecated magic at offset 48.</summary>
    public static ReadOnlySpan<byte> Magic => "RISCV\0\0\0"u8;

    /// <summary>Magic at offset 56, at the place of ARM64's.</summary>
    public static ReadOnlySpan<byte> Magic2 => "RSC\u0005"u8;

    public string DisplayName { get; }

    /// <summary>The whole file, header included: it is loaded as it is.</summary>
    public ReadOnlyMemory<byte> File { get; }

    public uint Code0 { get; }

    public uint Code1 { get; }

    public ulong TextOffset { get; }

    /// <summary>Effective size in memory; 0 in kernels that predate the field.</summary>
    public ulong ImageSize { get; }

    public ulong Flags { get; }

    public uint Version { get; }

    public ushort VersionMajor => (ushort)(Version >> 16);

    public ushort VersionMinor => (ushort)Version;

    public bool HasDeprecatedMagic { get; }

    public bool HasMagic2 { get; }

    /// <summary>"MZ" at offset 0: the Image is also a PE/COFF EFI application.</summary>
    public bool IsEfiStub { get; }

    /// <summary><c>res3</c>: file offset of the PE header when <see cref="IsEfiStub"/>.</summary>
    public uint PeHeaderOffset { get; }

    /// <summary>Bytes the kernel occupies from its load address: the larger of the file and <see cref="ImageSize"/>.</summary>
    public ulong MemorySize => Math.Max((ulong)File.Length, ImageSize);

    /// <summary>True when <paramref name="file"/> carries the header (either magic).</summary>
    public static bool HasHeader(ReadOnlySpan<byte> file) =>
        file.Length >= HeaderSize && (file.Slice(56, 4).SequenceEqual(Magic2) || file.Slice(48, 8).SequenceEqual(Magic));

    /// <summary>
    /// False when the file is not a RISC-V Image (too short or neither magic); true with the parsed header
    /// otherwise. Throws <see cref="BootImageException"/> when the header is there but names a kernel that cannot
    /// run here (big-endian).
    /// </summary>
    public static bool TryParse(string displayName, ReadOnlyMemory<byte> file, [NotNullWhen(true)] out LinuxImage? image)
    {
        ArgumentNullException.ThrowIfNull(displayName);
        image = null;
        if (!HasHeader(file.Span))
        {
            return false;
        }

        var parsed = new LinuxImage(displayName, file);
        if ((parsed.Flags & FlagBigEndian) != 0)
        {
            throw BootImageException.For(displayName,
                $"big-endian kernel (Image header flags {BootFormat.Hex(parsed.Flags)}) is not supported");
        }

        image = parsed;
        return true;
    }

    /// <summary>Like <see cref="TryParse"/>, but a file without the header is an error too.</summary>
    public static LinuxImage Parse(string displayName, ReadOnlyMemory<byte> file)
    {
        if (TryParse(displayName, file, out var image))
        {
            return image;
        }

        throw BootImageException.For(displayName, file.Length < HeaderSize
            ? $"not a RISC-V Linux Image: header needs {HeaderSize} bytes, file is {file.Length} bytes"
            : "not a RISC-V Linux Image (no \"RSC\\x05\" magic at offset 56)");
    }

    /// <summary>The file at <paramref name="loadAddress"/>, entry at its first byte (code0).</summary>
    public LoadPlan CreateLoadPlan(ulong loadAddress) => RawImage.CreateLoadPlan(DisplayName, File, loadAddress);

    public override string ToString() =>
        $"{DisplayName}: RISC-V Image v{VersionMajor}.{VersionMinor}, text_offset {BootFormat.Hex(TextOffset)}, image_size {BootFormat.Hex(ImageSize)}{(IsEfiStub ? ", EFI stub" : "")}";
}
