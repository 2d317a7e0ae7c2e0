namespace Trapeze.Machine.Boot;

/// <summary>What kind of file a <c>-kernel</c> argument is.</summary>
public enum KernelImageFormat
{
    /// <summary>ELF: loaded at its own physical addresses.</summary>
    Elf,

    /// <summary>RISC-V Linux Image: placed by <see cref="BootLayout"/>, footprint from its header.</summary>
    LinuxImage,

    /// <summary>Anything else: placed by <see cref="BootLayout"/>, footprint = file size.</summary>
    Raw,
}

/// <summary>
/// A kernel file identified the way QEMU's <c>riscv_load_kernel</c> tries formats: ELF first, otherwise a flat
/// binary (a Linux Image being a flat binary whose header tells its size in memory). Unlike QEMU, a file with
/// the ELF magic that is not a valid RISC-V ELF is an error instead of being loaded raw, and uImage is not
/// supported.
/// </summary>
public sealed class KernelImage
{
    private KernelImage(string displayName, ReadOnlyMemory<byte> file, KernelImageFormat format, ElfImage? elf,
        LinuxImage? linux)
    {
        DisplayName = displayName;
        File = file;
        Format = format;
        Elf = elf;
        Linux = linux;
    }

    public string DisplayName { get; }

    public ReadOnlyMemory<byte> File { get; }

    public KernelImageFormat Format { get; }

    /// <summary>Set when <see cref="Format"/> is <see cref="KernelImageFormat.Elf"/>.</summary>
    public ElfImage? Elf { get; }

    /// <summary>Set when <see cref="Format"/> is <see cref="KernelImageFormat.LinuxImage"/>.</summary>
    public LinuxImage? Linux { get; }

    /// <summary>Bytes a placed (non-ELF) kernel occupies from its start address.</summary>
    public ulong PlacedSize => Linux?.MemorySize ?? (ulong)File.Length;

    public static KernelImage Identify(string displayName, ReadOnlyMemory<byte> file)
    {
        ArgumentNullException.ThrowIfNull(displayName);
        if (file.IsEmpty)
        {
            throw BootImageException.For(displayName, "empty file");
        }

        if (ElfImage.HasElfMagic(file.Span))
        {
            return new KernelImage(displayName, file, KernelImageFormat.Elf, ElfImage.Parse(displayName, file), null);
        }

        if (LinuxImage.TryParse(displayName, file, out var linux))
        {
            return new KernelImage(displayName, file, KernelImageFormat.LinuxImage, null, linux);
        }

        return new KernelImage(displayName, file, KernelImageFormat.Raw, null, null);
    }
}
