using System.Buffers.Binary;

namespace Trapeze.Machine.Boot;

/// <summary>
/// The reset vector in the boot ROM, laid out as QEMU's virt board does (hw/riscv/boot.c): every hart
/// starts here with a0 = mhartid, a1 = the FDT address, a2 = the address of a <c>fw_dynamic_info</c>
/// record (OpenSBI's include/sbi/fw_dynamic.h), and jumps to the firmware or kernel.
/// </summary>
public static class BootRom
{
    public const ulong Base = 0x1000;
    public const ulong Size = 0xf000;

    public const ulong FwDynamicMagic = 0x4942534f; // "OSBI"
    public const ulong FwDynamicVersion = 2;
    public const ulong NextModeS = 1;

    private static readonly uint[] Code =
    [
        0x00000297, // auipc t0, 0
        0x02828613, // addi  a2, t0, 40      -> fw_dynamic_info
        0xf1402573, // csrr  a0, mhartid
        0x0202b583, // ld    a1, 32(t0)      -> fdt address
        0x0182b283, // ld    t0, 24(t0)      -> start address
        0x00028067, // jr    t0
    ];

    /// <summary>Builds the ROM image: code, start address, FDT address, then fw_dynamic_info
    /// {magic, version, next_addr, next_mode, options, boot_hart}.</summary>
    public static byte[] Build(ulong startAddress, ulong fdtAddress, ulong nextAddress, ulong nextMode = NextModeS)
    {
        var rom = new byte[0x58];
        for (int i = 0; i < Code.Length; i++) BinaryPrimitives.WriteUInt32LittleEndian(rom.AsSpan(4 * i), Code[i]);
        BinaryPrimitives.WriteUInt64LittleEndian(rom.AsSpan(24), startAddress);
        BinaryPrimitives.WriteUInt64LittleEndian(rom.AsSpan(32), fdtAddress);
        Span<ulong> info = [FwDynamicMagic, FwDynamicVersion, nextAddress, nextMode, 0, 0];
        for (int i = 0; i < info.Length; i++) BinaryPrimitives.WriteUInt64LittleEndian(rom.AsSpan(40 + 8 * i), info[i]);
        return rom;
    }
}
