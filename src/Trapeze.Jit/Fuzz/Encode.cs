namespace Trapeze.Jit.Fuzz;

/// <summary>Instruction encoders for the few instructions the fuzz generator lays out itself (control
/// flow, address and constant set-up); everything else comes from the decode table.</summary>
public static class Encode
{
    public static uint R(uint funct7, int rs2, int rs1, uint funct3, int rd, uint opcode) =>
        funct7 << 25 | (uint)rs2 << 20 | (uint)rs1 << 15 | funct3 << 12 | (uint)rd << 7 | opcode;

    public static uint I(long imm, int rs1, uint funct3, int rd, uint opcode) =>
        ((uint)imm & 0xfff) << 20 | (uint)rs1 << 15 | funct3 << 12 | (uint)rd << 7 | opcode;

    public static uint Addi(int rd, int rs1, long imm) => I(imm, rs1, 0, rd, 0x13);
    public static uint Addiw(int rd, int rs1, long imm) => I(imm, rs1, 0, rd, 0x1b);
    public static uint Slli(int rd, int rs1, int shamt) => I(shamt, rs1, 1, rd, 0x13);
    public static uint Jalr(int rd, int rs1, long imm) => I(imm, rs1, 0, rd, 0x67);
    public static uint Lui(int rd, long imm20) => ((uint)imm20 & 0xfffff) << 12 | (uint)rd << 7 | 0x37;
    public static uint Auipc(int rd, long imm20) => ((uint)imm20 & 0xfffff) << 12 | (uint)rd << 7 | 0x17;
    public static uint FmvDX(int fd, int rs1) => R(0x79, 0, rs1, 0, fd, 0x53);
    public static uint FmvWX(int fd, int rs1) => R(0x78, 0, rs1, 0, fd, 0x53);
    public static uint Wfi => 0x10500073;

    /// <summary>B-type: funct3 0 beq, 1 bne, 4 blt, 5 bge, 6 bltu, 7 bgeu.</summary>
    public static uint Branch(uint funct3, int rs1, int rs2, long offset)
    {
        uint o = (uint)offset;
        return ((o >> 12) & 1) << 31 | ((o >> 5) & 0x3f) << 25 | (uint)rs2 << 20 | (uint)rs1 << 15 | funct3 << 12
               | ((o >> 1) & 0xf) << 8 | ((o >> 11) & 1) << 7 | 0x63;
    }

    public static uint Jal(int rd, long offset)
    {
        uint o = (uint)offset;
        return ((o >> 20) & 1) << 31 | ((o >> 1) & 0x3ff) << 21 | ((o >> 11) & 1) << 20 | ((o >> 12) & 0xff) << 12
               | (uint)rd << 7 | 0x6f;
    }

    /// <summary>c.beqz (bnez = false) / c.bnez: rs1 in x8..x15, offset within ±256.</summary>
    public static uint CBranch(bool bnez, int rs1, long offset)
    {
        uint o = (uint)offset;
        return (bnez ? 7u : 6u) << 13 | ((o >> 8) & 1) << 12 | ((o >> 3) & 3) << 10 | (uint)(rs1 - 8) << 7
               | ((o >> 6) & 3) << 5 | ((o >> 1) & 3) << 3 | ((o >> 5) & 1) << 2 | 1;
    }

    public static uint CJ(long offset)
    {
        uint o = (uint)offset;
        return 5u << 13 | ((o >> 11) & 1) << 12 | ((o >> 4) & 1) << 11 | ((o >> 8) & 3) << 9 | ((o >> 10) & 1) << 8
               | ((o >> 6) & 1) << 7 | ((o >> 7) & 1) << 6 | ((o >> 1) & 7) << 3 | ((o >> 5) & 1) << 2 | 1;
    }

    /// <summary>c.jr (link = false) or c.jalr; rs1 must not be x0.</summary>
    public static uint CJr(bool link, int rs1) => (link ? 9u : 8u) << 12 | (uint)rs1 << 7 | 2;

    public static bool FitsSigned(long v, int bits) => v >= -(1L << (bits - 1)) && v < (1L << (bits - 1));

    /// <summary>Instructions that load a 64-bit constant into <paramref name="rd"/> (the usual lui/addiw,
    /// slli, addi expansion).</summary>
    public static void LoadImmediate(List<uint> output, int rd, long value)
    {
        if (FitsSigned(value, 32))
        {
            long lo = value << 52 >> 52;
            long hi = (value - lo) >> 12;
            if (hi != 0)
            {
                output.Add(Lui(rd, hi));
                if (lo != 0) output.Add(Addiw(rd, rd, lo));
            }
            else output.Add(Addi(rd, 0, lo));
            return;
        }
        long low = value << 52 >> 52;
        long rest = (value - low) >> 12;
        int shift = 12;
        while ((rest & 1) == 0 && shift < 63) { rest >>= 1; shift++; }
        LoadImmediate(output, rd, rest);
        output.Add(Slli(rd, rd, shift));
        if (low != 0) output.Add(Addi(rd, rd, low));
    }
}
