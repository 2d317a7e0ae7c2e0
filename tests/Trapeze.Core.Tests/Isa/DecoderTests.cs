using Trapeze.Core.Isa;

namespace Trapeze.Core.Tests.Isa;

/// <summary>
/// Unit tests of <see cref="Decoder"/> that need no host tools. The encoders below scatter an immediate into
/// its format's bit positions as the spec draws them (Unpriv. spec 2.3 Figure 2.4, chapter 16 Tables 16.1-16.6),
/// so each test checks the decoder's gather against an independent scatter, over every value of the field.
/// </summary>
public sealed class DecoderTests
{
    private const uint OpImm = 0x13, Load = 0x03, Store = 0x23, BranchOp = 0x63, Lui = 0x37, Jal = 0x6f;

    private static uint I(int imm, int rs1, int f3, int rd, uint op) =>
        (uint)(imm & 0xfff) << 20 | (uint)rs1 << 15 | (uint)f3 << 12 | (uint)rd << 7 | op;

    private static uint S(int imm, int rs2, int rs1, int f3, uint op) =>
        (uint)((imm >> 5) & 0x7f) << 25 | (uint)rs2 << 20 | (uint)rs1 << 15 | (uint)f3 << 12 | (uint)(imm & 31) << 7 | op;

    private static uint B(int imm, int rs2, int rs1, int f3) =>
        (uint)((imm >> 12) & 1) << 31 | (uint)((imm >> 5) & 0x3f) << 25 | (uint)rs2 << 20 | (uint)rs1 << 15
        | (uint)f3 << 12 | (uint)((imm >> 1) & 0xf) << 8 | (uint)((imm >> 11) & 1) << 7 | BranchOp;

    private static uint J(int imm, int rd) =>
        (uint)((imm >> 20) & 1) << 31 | (uint)((imm >> 1) & 0x3ff) << 21 | (uint)((imm >> 11) & 1) << 20
        | (uint)((imm >> 12) & 0xff) << 12 | (uint)rd << 7 | Jal;

    private static uint Bits(int value, int from, int width, int to) => (uint)((value >> from) & ((1 << width) - 1)) << to;

    // ---- Decoder.LengthOf (Unpriv. spec 1.5, Figure 1.1)

    [Fact]
    public void LengthOfFollowsTheLowBitsForEveryHalfword()
    {
        for (int v = 0; v < 65536; v++)
        {
            int expected = (v & 3) != 3 ? 2 : (v & 0x1c) != 0x1c ? 4 : 0;
            Assert.Equal(expected, Decoder.LengthOf((ushort)v));
        }
    }

    [Theory]
    [InlineData(0x0000, 2)] // the defined illegal instruction is still 16 bits
    [InlineData(0x4501, 2)] // c.li a0, 0
    [InlineData(0x8082, 2)] // c.jr ra
    [InlineData(0x0513, 4)] // addi (low half)
    [InlineData(0x0073, 4)] // ecall
    [InlineData(0x007b, 4)] // custom-3 is a 32-bit opcode
    [InlineData(0x001f, 0)] // 48-bit
    [InlineData(0x003f, 0)] // 64-bit
    [InlineData(0x007f, 0)] // 80-bit and longer
    [InlineData(0xffff, 0)]
    public void LengthOfExamples(int low, int length) => Assert.Equal(length, Decoder.LengthOf((ushort)low));

    [Theory]
    [InlineData(0x0000001fu)]
    [InlineData(0x0000003fu)]
    [InlineData(0xffffffffu)]
    public void LongerEncodingsAreIllegal(uint raw)
    {
        var d = Decoder.Decode(raw);
        Assert.Equal(Op.Illegal, d.Op);
        Assert.Equal(raw & 0xffff, d.Raw);
    }

    [Fact]
    public void CompressedDecodeIgnoresTheUpperHalf()
    {
        var a = Decoder.Decode(0x4505);          // c.li a0, 1
        var b = Decoder.Decode(0xdead_4505);
        Assert.Equal(a, b);
        Assert.Equal(2, b.Length);
    }

    // ---- 32-bit immediates

    [Fact]
    public void ITypeImmediateEveryValue()
    {
        for (int imm = -2048; imm < 2048; imm++)
        {
            var d = Decoder.Decode(I(imm, 11, 0, 10, OpImm));
            Assert.Equal((Op.Addi, imm, 10, 11), (d.Op, d.Imm, (int)d.Rd, (int)d.Rs1));
            d = Decoder.Decode(I(imm, 2, 3, 5, Load));
            Assert.Equal((Op.Ld, imm), (d.Op, d.Imm));
            d = Decoder.Decode(I(imm, 1, 0, 0, 0x67));
            Assert.Equal((Op.Jalr, imm, DecodedInsn.SinkRegister), (d.Op, d.Imm, d.Rd));
        }
    }

    [Fact]
    public void STypeImmediateEveryValue()
    {
        for (int imm = -2048; imm < 2048; imm++)
        {
            var d = Decoder.Decode(S(imm, 12, 13, 3, Store));
            Assert.Equal((Op.Sd, imm, 12, 13), (d.Op, d.Imm, (int)d.Rs2, (int)d.Rs1));
            d = Decoder.Decode(S(imm, 31, 0, 2, 0x27));
            Assert.Equal((Op.Fsw, imm, 31), (d.Op, d.Imm, (int)d.Rs2));
        }
    }

    [Fact]
    public void BTypeImmediateEveryOffset()
    {
        for (int imm = -4096; imm < 4096; imm += 2)
        {
            var d = Decoder.Decode(B(imm, 7, 6, 5));
            Assert.Equal((Op.Bge, imm, 6, 7), (d.Op, d.Imm, (int)d.Rs1, (int)d.Rs2));
        }
    }

    [Fact]
    public void UTypeImmediateEveryValue()
    {
        for (int hi = 0; hi < 1 << 20; hi++)
        {
            uint raw = (uint)hi << 12 | 9u << 7 | Lui;
            var d = Decoder.Decode(raw);
            // Sign-extended from bit 31 (Unpriv. spec 4.2.1).
            if (d.Op != Op.Lui || d.Imm != (int)((uint)hi << 12) || d.Rd != 9) Assert.Fail($"lui 0x{hi:x}: got {d.Op} {d.Imm}");
        }
        Assert.Equal(Op.Auipc, Decoder.Decode(0xfffff017).Op);
        Assert.Equal(-4096, Decoder.Decode(0xfffff017).Imm);
    }

    [Fact]
    public void JTypeImmediateEveryOffset()
    {
        for (int imm = -(1 << 20); imm < 1 << 20; imm += 2)
        {
            var d = Decoder.Decode(J(imm, 1));
            if (d.Imm != imm || d.Op != Op.Jal || d.Rd != 1) Assert.Fail($"jal {imm}: got {d.Op} {d.Imm} rd={d.Rd}");
        }
        Assert.Equal(DecodedInsn.SinkRegister, Decoder.Decode(J(-2, 0)).Rd);
    }

    [Theory]
    [InlineData(0x00051513u, Op.Slli, 0)]
    [InlineData(0x01f51513u, Op.Slli, 31)]
    [InlineData(0x02051513u, Op.Slli, 32)]
    [InlineData(0x03f51513u, Op.Slli, 63)]
    [InlineData(0x03f55513u, Op.Srli, 63)]
    [InlineData(0x43f55513u, Op.Srai, 63)]
    [InlineData(0x40055513u, Op.Srai, 0)]
    [InlineData(0x01f5151bu, Op.Slliw, 31)]
    [InlineData(0x41f5551bu, Op.Sraiw, 31)]
    public void ShiftAmounts(uint raw, Op op, int shamt)
    {
        var d = Decoder.Decode(raw);
        Assert.Equal((op, (long)shamt), (d.Op, d.Imm));
    }

    [Theory]
    [InlineData(0x0205151bu)] // slliw with shamt[5] set is reserved in RV64 (Unpriv. spec 4.2.1)
    [InlineData(0x0205551bu)] // srliw
    [InlineData(0x4205551bu)] // sraiw
    [InlineData(0x04051513u)] // slli with imm[11:6] = 000001
    [InlineData(0x83f55513u)] // srli/srai with imm[11:6] = 100000
    public void ReservedShiftEncodingsAreIllegal(uint raw) => Assert.Equal(Op.Illegal, Decoder.Decode(raw).Op);

    [Fact]
    public void CsrNumberAndImmediateOperand()
    {
        for (int csr = 0; csr < 4096; csr++)
        {
            var d = Decoder.Decode((uint)csr << 20 | 31u << 15 | 5u << 12 | 10u << 7 | 0x73); // csrrwi a0, csr, 31
            Assert.Equal((Op.Csrrwi, (long)csr, 31), (d.Op, d.Imm, (int)d.Rs1));
        }
    }

    [Fact]
    public void FenceKeepsFmPredecessorAndSuccessor()
    {
        Assert.Equal((Op.Fence, 0x0ffL), (Decoder.Decode(0x0ff0000f).Op, Decoder.Decode(0x0ff0000f).Imm));
        Assert.Equal((Op.Fence, 0x833L), (Decoder.Decode(0x8330000f).Op, Decoder.Decode(0x8330000f).Imm)); // fence.tso
        // Reserved rd/rs1/fm are ignored (Unpriv. spec 2.7), as are FENCE.I's (chapter 3).
        Assert.Equal(Op.Fence, Decoder.Decode(0x1ff5050f).Op);
        Assert.Equal(Op.FenceI, Decoder.Decode(0xfff5150f).Op);
    }

    [Fact]
    public void AmoOrderingBitsAndFr4Operand()
    {
        for (uint aqrl = 0; aqrl < 4; aqrl++)
        {
            var d = Decoder.Decode(0x00c5b52f | aqrl << 25); // amoadd.d a0, a2, (a1)
            Assert.Equal((Op.AmoaddD, (byte)aqrl, 10, 11, 12), (d.Op, d.Rm, (int)d.Rd, (int)d.Rs1, (int)d.Rs2));
        }
        var f = Decoder.Decode(0x68c5f543); // fmadd.s fa0, fa1, fa2, fa3 (dyn)
        Assert.Equal((Op.FmaddS, 10, 11, 12, 13, 7), (f.Op, (int)f.Rd, (int)f.Rs1, (int)f.Rs2, (int)f.Rs3, (int)f.Rm));
    }

    [Fact]
    public void ReservedRoundingModesAreIllegal()
    {
        // Unpriv. spec 11.2, Table 11.1: rm 101 and 110 are reserved; 111 (DYN) is checked at execution.
        foreach (var e in DecodeTable.Entries)
        {
            if (!e.HasRoundingMode) continue;
            for (uint rm = 0; rm < 8; rm++)
            {
                uint raw = (e.Match & ~0x7000u) | rm << 12;
                var d = Decoder.Decode(raw);
                if (rm is 5 or 6) Assert.True(d.Op == Op.Illegal, $"{e.Mnemonic} rm={rm}");
                else Assert.True(d.Op == e.Op && d.Rm == rm, $"{e.Mnemonic} rm={rm}: {d.Op} {d.Rm}");
            }
        }
        // Instructions whose funct3 is part of the opcode never see the check.
        Assert.Equal(Op.FsgnjxD, Decoder.Decode(0x22c5a553).Op);
    }

    [Fact]
    public void IntegerDestinationX0GoesToTheSinkButFpF0DoesNot()
    {
        Assert.Equal(DecodedInsn.SinkRegister, Decoder.Decode(0x00000013).Rd);  // addi x0, x0, 0
        Assert.Equal(DecodedInsn.SinkRegister, Decoder.Decode(0xc0058053).Rd);  // fcvt.w.s x0, fa1
        Assert.Equal(DecodedInsn.SinkRegister, Decoder.Decode(0xa0b5a053).Rd);  // feq.s x0, fa1, fa1
        Assert.Equal(DecodedInsn.SinkRegister, Decoder.Decode(0x30002073).Rd);  // csrrs x0, mstatus, x0
        Assert.Equal(DecodedInsn.SinkRegister, Decoder.Decode(0x0005202f).Rd);  // amoadd.w x0, x0, (a0)
        Assert.Equal(0, Decoder.Decode(0x00052007).Rd);                          // flw f0, 0(a0)
        Assert.Equal(0, Decoder.Decode(0xf0050053).Rd);                          // fmv.w.x f0, a0
        Assert.Equal((byte)0, Decoder.Decode(0x00002083).Rs1);                   // lw ra, 0(x0): sources keep x0
    }

    // ---- Compressed: every immediate of every form

    private static uint Ciw(int nzuimm, int rdP) =>
        Bits(nzuimm, 4, 2, 11) | Bits(nzuimm, 6, 4, 7) | Bits(nzuimm, 2, 1, 6) | Bits(nzuimm, 3, 1, 5) | (uint)rdP << 2;

    [Fact]
    public void CAddi4spnEveryImmediate()
    {
        for (int imm = 4; imm < 1024; imm += 4)
        {
            var d = Decoder.Decode(Ciw(imm, 3));
            Assert.Equal((Op.Addi, imm, 11, 2), (d.Op, d.Imm, (int)d.Rd, (int)d.Rs1));
        }
        Assert.Equal(Op.Illegal, Decoder.Decode(Ciw(0, 3)).Op); // nzuimm = 0 is reserved
    }

    [Fact]
    public void CLoadStoreEveryOffset()
    {
        for (int off = 0; off < 128; off += 4)
        {
            uint w = Bits(off, 3, 3, 10) | Bits(off, 2, 1, 6) | Bits(off, 6, 1, 5) | 1u << 7 | 2u << 2; // rs1'=x9, rd'=x10
            var lw = Decoder.Decode(0x4000 | w);
            Assert.Equal((Op.Lw, off, 10, 9), (lw.Op, lw.Imm, (int)lw.Rd, (int)lw.Rs1));
            var sw = Decoder.Decode(0xc000 | w);
            Assert.Equal((Op.Sw, off, 10, 9), (sw.Op, sw.Imm, (int)sw.Rs2, (int)sw.Rs1));
        }
        for (int off = 0; off < 256; off += 8)
        {
            uint w = Bits(off, 3, 3, 10) | Bits(off, 6, 2, 5) | 7u << 7 | 0u << 2; // rs1'=x15, rd'=x8
            Assert.Equal((Op.Ld, off, 8, 15), Tuple(Decoder.Decode(0x6000 | w)));
            Assert.Equal((Op.Fld, off, 8, 15), Tuple(Decoder.Decode(0x2000 | w)));
            var sd = Decoder.Decode(0xe000 | w);
            Assert.Equal((Op.Sd, off, 8), (sd.Op, sd.Imm, (int)sd.Rs2));
            var fsd = Decoder.Decode(0xa000 | w);
            Assert.Equal((Op.Fsd, off, 8), (fsd.Op, fsd.Imm, (int)fsd.Rs2));
        }

        static (Op, long, int, int) Tuple(DecodedInsn d) => (d.Op, d.Imm, d.Rd, d.Rs1);
    }

    private static uint Ci(int f3, int imm6, int rd, int quadrant) =>
        (uint)f3 << 13 | Bits(imm6, 5, 1, 12) | (uint)rd << 7 | Bits(imm6, 0, 5, 2) | (uint)quadrant;

    [Fact]
    public void CiImmediatesEveryValue()
    {
        for (int imm = -32; imm < 32; imm++)
        {
            Assert.Equal((Op.Addi, imm, 10, 10), Operands(Decoder.Decode(Ci(0, imm, 10, 1))));   // c.addi
            Assert.Equal((Op.Addiw, imm, 10, 10), Operands(Decoder.Decode(Ci(1, imm, 10, 1))));  // c.addiw
            Assert.Equal((Op.Addi, imm, 10, 0), Operands(Decoder.Decode(Ci(2, imm, 10, 1))));    // c.li
            Assert.Equal((Op.Andi, imm, 9, 9), Operands(Decoder.Decode(Ci(4, imm, 1, 1) | 2u << 10))); // c.andi s1
            var lui = Decoder.Decode(Ci(3, imm, 10, 1));
            if (imm == 0) Assert.Equal(Op.Illegal, lui.Op); // c.lui with nzimm = 0 is reserved
            else Assert.Equal((Op.Lui, (long)imm << 12, 10), (lui.Op, lui.Imm, (int)lui.Rd));
        }
        for (int sh = 0; sh < 64; sh++)
        {
            Assert.Equal((Op.Slli, sh, 10, 10), Operands(Decoder.Decode(Ci(0, sh, 10, 2))));
            Assert.Equal((Op.Srli, sh, 8, 8), Operands(Decoder.Decode(Ci(4, sh, 0, 1))));
            Assert.Equal((Op.Srai, sh, 8, 8), Operands(Decoder.Decode(Ci(4, sh, 0, 1) | 1u << 10)));
        }

        static (Op, long, int, int) Operands(DecodedInsn d) => (d.Op, d.Imm, d.Rd, d.Rs1);
    }

    [Fact]
    public void CAddi16spEveryImmediate()
    {
        for (int imm = -512; imm < 512; imm += 16)
        {
            uint raw = 0x6101 | Bits(imm, 9, 1, 12) | Bits(imm, 4, 1, 6) | Bits(imm, 6, 1, 5) | Bits(imm, 7, 2, 3) | Bits(imm, 5, 1, 2);
            var d = Decoder.Decode(raw);
            if (imm == 0) Assert.Equal(Op.Illegal, d.Op); // nzimm = 0 is reserved
            else Assert.Equal((Op.Addi, imm, 2, 2), (d.Op, d.Imm, (int)d.Rd, (int)d.Rs1));
        }
    }

    [Fact]
    public void CJumpAndBranchEveryOffset()
    {
        for (int off = -2048; off < 2048; off += 2)
        {
            uint raw = 0xa001 | Bits(off, 11, 1, 12) | Bits(off, 4, 1, 11) | Bits(off, 8, 2, 9) | Bits(off, 10, 1, 8)
                       | Bits(off, 6, 1, 7) | Bits(off, 7, 1, 6) | Bits(off, 1, 3, 3) | Bits(off, 5, 1, 2);
            var d = Decoder.Decode(raw);
            Assert.Equal((Op.Jal, off, DecodedInsn.SinkRegister), (d.Op, d.Imm, d.Rd));
        }
        for (int off = -256; off < 256; off += 2)
        {
            uint raw = Bits(off, 8, 1, 12) | Bits(off, 3, 2, 10) | 5u << 7 | Bits(off, 6, 2, 5) | Bits(off, 1, 2, 3) | Bits(off, 5, 1, 2) | 1;
            var beqz = Decoder.Decode(0xc000 | raw);
            Assert.Equal((Op.Beq, off, 13, 0), (beqz.Op, beqz.Imm, (int)beqz.Rs1, (int)beqz.Rs2));
            Assert.Equal((Op.Bne, (long)off), (Decoder.Decode(0xe000 | raw).Op, Decoder.Decode(0xe000 | raw).Imm));
        }
    }

    [Fact]
    public void CStackPointerLoadsAndStoresEveryOffset()
    {
        for (int off = 0; off < 256; off += 4)
        {
            var lwsp = Decoder.Decode(0x4002 | Bits(off, 5, 1, 12) | 10u << 7 | Bits(off, 2, 3, 4) | Bits(off, 6, 2, 2));
            Assert.Equal((Op.Lw, off, 10, 2), (lwsp.Op, lwsp.Imm, (int)lwsp.Rd, (int)lwsp.Rs1));
            var swsp = Decoder.Decode(0xc002 | Bits(off, 2, 4, 9) | Bits(off, 6, 2, 7) | 10u << 2);
            Assert.Equal((Op.Sw, off, 10, 2), (swsp.Op, swsp.Imm, (int)swsp.Rs2, (int)swsp.Rs1));
        }
        for (int off = 0; off < 512; off += 8)
        {
            uint load = Bits(off, 5, 1, 12) | 10u << 7 | Bits(off, 3, 2, 5) | Bits(off, 6, 3, 2);
            var ldsp = Decoder.Decode(0x6002 | load);
            Assert.Equal((Op.Ld, off, 10, 2), (ldsp.Op, ldsp.Imm, (int)ldsp.Rd, (int)ldsp.Rs1));
            var fldsp = Decoder.Decode(0x2002 | load);
            Assert.Equal((Op.Fld, off, 10), (fldsp.Op, fldsp.Imm, (int)fldsp.Rd));
            uint store = Bits(off, 3, 3, 10) | Bits(off, 6, 3, 7) | 10u << 2;
            var sdsp = Decoder.Decode(0xe002 | store);
            Assert.Equal((Op.Sd, off, 10, 2), (sdsp.Op, sdsp.Imm, (int)sdsp.Rs2, (int)sdsp.Rs1));
            Assert.Equal((Op.Fsd, (long)off), (Decoder.Decode(0xa002 | store).Op, Decoder.Decode(0xa002 | store).Imm));
        }
    }

    [Theory]
    [InlineData(0x0000)] // the defined illegal instruction
    [InlineData(0x0004)] // c.addi4spn nzuimm = 0
    [InlineData(0x2001)] // c.addiw rd = 0
    [InlineData(0x6101)] // c.addi16sp nzimm = 0
    [InlineData(0x6501)] // c.lui nzimm = 0
    [InlineData(0x8002)] // c.jr rs1 = 0
    [InlineData(0x4002)] // c.lwsp rd = 0
    [InlineData(0x6002)] // c.ldsp rd = 0
    [InlineData(0x9c41)] // reserved CA slots (RV64)
    [InlineData(0x9c61)]
    [InlineData(0x8000)] // quadrant 0 funct3 100 (reserved)
    public void ReservedCompressedEncodings(int raw)
    {
        var d = Decoder.Decode((uint)raw);
        Assert.True(d.Op == Op.Illegal, $"0x{raw:x4} decoded as {d.Op}");
    }

    [Theory]
    [InlineData(0x0001, Op.Addi)]   // c.nop
    [InlineData(0x1001, Op.Addi)]   // c.nop with imm != 0: HINT
    [InlineData(0x0501, Op.Addi)]   // c.addi rd, 0: HINT
    [InlineData(0x4001, Op.Addi)]   // c.li x0: HINT
    [InlineData(0x6005, Op.Lui)]    // c.lui x0: HINT
    [InlineData(0x7001, Op.Lui)]    // c.lui x0 with nzimm = 0x20: HINT, not the reserved nzimm = 0
    [InlineData(0x800a, Op.Add)]    // c.mv x0: HINT
    [InlineData(0x900a, Op.Add)]    // c.add x0: HINT
    [InlineData(0x0006, Op.Slli)]   // c.slli x0: HINT
    [InlineData(0x0502, Op.Slli)]   // c.slli shamt 0: HINT
    [InlineData(0x8001, Op.Srli)]   // c.srli shamt 0: HINT
    [InlineData(0x2002, Op.Fld)]    // c.fldsp f0 is valid
    [InlineData(0x9002, Op.Ebreak)] // c.ebreak, not c.jalr x0
    [InlineData(0x9082, Op.Jalr)]   // c.jalr ra
    public void CompressedHintsDecodeToTheirBaseOperation(int raw, Op op)
    {
        var d = Decoder.Decode((uint)raw);
        Assert.Equal(op, d.Op);
        Assert.Equal(2, d.Length);
    }

    [Fact]
    public void CompressedRegisterForms()
    {
        var jr = Decoder.Decode(0x8082);   // c.jr ra -> jalr x0, 0(ra)
        Assert.Equal((Op.Jalr, DecodedInsn.SinkRegister, (byte)1, 0L), (jr.Op, jr.Rd, jr.Rs1, jr.Imm));
        var jalr = Decoder.Decode(0x9582); // c.jalr a1 -> jalr ra, 0(a1)
        Assert.Equal((Op.Jalr, (byte)1, (byte)11), (jalr.Op, jalr.Rd, jalr.Rs1));
        var mv = Decoder.Decode(0x852e);   // c.mv a0, a1 -> add a0, x0, a1
        Assert.Equal((Op.Add, (byte)10, (byte)0, (byte)11), (mv.Op, mv.Rd, mv.Rs1, mv.Rs2));
        var add = Decoder.Decode(0x952e);  // c.add a0, a1 -> add a0, a0, a1
        Assert.Equal((Op.Add, (byte)10, (byte)10, (byte)11), (add.Op, add.Rd, add.Rs1, add.Rs2));
        var subw = Decoder.Decode(0x9d05); // c.subw a0, s1
        Assert.Equal((Op.Subw, (byte)10, (byte)10, (byte)9), (subw.Op, subw.Rd, subw.Rs1, subw.Rs2));
    }

    // ---- The table itself

    [Fact]
    public void TableEntriesAreWellFormed()
    {
        foreach (var e in DecodeTable.Entries)
        {
            Assert.True((e.Match & ~e.Mask) == 0, $"{e.Mnemonic}: match has bits outside the mask");
            if (e.Compressed)
                Assert.True((e.Mask & 0xffff_0000) == 0 && (e.Match & 3) != 3 && (e.Mask & 0xe003) == 0xe003, e.Mnemonic);
            else
                Assert.True((e.Mask & 0x7f) == 0x7f && (e.Match & 3) == 3 && (e.Match & 0x1c) != 0x1c, e.Mnemonic);
        }
    }

    /// <summary>Entries that overlap must be deliberate: a more specific encoding listed before the general
    /// one it carves out of (Unpriv. spec Table 16.5-16.6).</summary>
    [Fact]
    public void OnlyDeliberateOverlapsAndSpecificFirst()
    {
        var allowed = new HashSet<(string, string)>
        {
            ("c.addi16sp", "c.lui"), ("c.ebreak", "c.jalr"), ("c.ebreak", "c.add"), ("c.jr", "c.mv"), ("c.jalr", "c.add"),
        };
        var entries = DecodeTable.Entries;
        for (int i = 0; i < entries.Length; i++)
        {
            for (int j = i + 1; j < entries.Length; j++)
            {
                var a = entries[i];
                var b = entries[j];
                if (a.Compressed != b.Compressed) continue;
                bool overlap = ((a.Match ^ b.Match) & a.Mask & b.Mask) == 0;
                if (!overlap) continue;
                Assert.True(allowed.Contains((a.Mnemonic, b.Mnemonic)), $"{a.Mnemonic} overlaps {b.Mnemonic}");
                Assert.True((a.Mask & b.Mask) == b.Mask, $"{a.Mnemonic} should be more specific than {b.Mnemonic}");
            }
        }
    }

    [Fact]
    public void EveryOpExceptIllegalHasAnEntry()
    {
        var ops = DecodeTable.Entries.Select(e => e.Op).ToHashSet();
        foreach (Op op in Enum.GetValues<Op>())
            if (op is not (Op.Illegal or Op.Count)) Assert.Contains(op, ops);
    }

    [Fact]
    public void RandomFillingsOfAnEntryDecodeToThatEntry()
    {
        // Any encoding matching an entry decodes to it, to a deliberately more specific overlapping entry, or
        // to Illegal for the reserved forms the decoder checks beyond the pattern (rm 101/110, compressed RES).
        var rng = new Random(1234);
        var entries = DecodeTable.Entries;
        for (int i = 0; i < entries.Length; i++)
        {
            var e = entries[i];
            for (int k = 0; k < 500; k++)
            {
                uint raw = (uint)rng.NextInt64(1L << 32) & ~e.Mask | e.Match;
                if (e.Compressed) raw &= 0xffff;
                var d = Decoder.Decode(raw);
                if (d.Op == Op.Illegal) continue;
                if (d.Entry == i) continue;
                var other = entries[d.Entry];
                Assert.True((raw & other.Mask) == other.Match && (other.Mask & e.Mask) == e.Mask && d.Entry < i,
                    $"0x{raw:x} matches {e.Mnemonic} but decoded as {other.Mnemonic}");
            }
        }
        // Illegal only where expected: no rm field, no compressed form with a reserved case, never.
        foreach (var e in entries.Where(e => !e.HasRoundingMode && !e.Compressed))
            for (int k = 0; k < 500; k++)
                Assert.NotEqual(Op.Illegal, Decoder.Decode((uint)rng.NextInt64(1L << 32) & ~e.Mask | e.Match).Op);
    }
}
