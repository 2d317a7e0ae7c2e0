using Trapeze.Jit.Fuzz;

namespace Trapeze.Jit.Tests;

/// <summary>Hand assembly for tests: a page of code built from encodings.</summary>
public sealed class Asm
{
    public readonly byte[] Page = new byte[4096];
    public int Offset;

    public Asm At(int offset) { Offset = offset; return this; }

    public Asm I32(uint raw)
    {
        BitConverter.TryWriteBytes(Page.AsSpan(Offset), raw);
        Offset += 4;
        return this;
    }

    public Asm I16(uint raw)
    {
        BitConverter.TryWriteBytes(Page.AsSpan(Offset), (ushort)raw);
        Offset += 2;
        return this;
    }

    public Asm Addi(int rd, int rs1, long imm) => I32(Encode.Addi(rd, rs1, imm));
    public Asm Ld(int rd, int rs1, long imm) => I32(Encode.I(imm, rs1, 3, rd, 0x03));
    public Asm Lw(int rd, int rs1, long imm) => I32(Encode.I(imm, rs1, 2, rd, 0x03));
    public Asm Jal(int rd, long offset) => I32(Encode.Jal(rd, offset));
    public Asm Bne(int rs1, int rs2, long offset) => I32(Encode.Branch(1, rs1, rs2, offset));
    public Asm Beq(int rs1, int rs2, long offset) => I32(Encode.Branch(0, rs1, rs2, offset));
    public Asm Jalr(int rd, int rs1, long imm) => I32(Encode.Jalr(rd, rs1, imm));
    public Asm Ecall() => I32(0x00000073);
    public Asm Wfi() => I32(Encode.Wfi);
    public Asm Csrr(int rd, int csr) => I32(Encode.I(csr, 0, 2, rd, 0x73));
    public Asm CNop() => I16(0x0001);
}
