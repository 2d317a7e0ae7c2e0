using Trapeze.Core.Isa;

namespace Trapeze.Core.Tests.Isa;

/// <summary>Exact text of <see cref="Disassembler.Format"/> for representative encodings (no host tools).</summary>
public sealed class DisassemblerTests
{
    private const ulong Pc = 0x8000_0000;

    [Theory]
    [InlineData(0x80058513u, "addi a0, a1, -2048")]
    [InlineData(0x7ff58513u, "addi a0, a1, 2047")]
    [InlineData(0x00000013u, "addi zero, zero, 0")]
    [InlineData(0x03f51513u, "slli a0, a0, 63")]
    [InlineData(0x000580e7u, "jalr ra, 0(a1)")]
    [InlineData(0xff85b503u, "ld a0, -8(a1)")]
    [InlineData(0x00a5b423u, "sd a0, 8(a1)")]
    [InlineData(0x80b50063u, "beq a0, a1, 0x7ffff000")]  // most negative branch offset
    [InlineData(0x7eb50fe3u, "beq a0, a1, 0x80000ffe")]  // most positive
    [InlineData(0x800000efu, "jal ra, 0x7ff00000")]      // most negative jump
    [InlineData(0xfffff537u, "lui a0, 0xfffff")]
    [InlineData(0x30059573u, "csrrw a0, mstatus, a1")]
    [InlineData(0x7c002573u, "csrrs a0, 0x7c0, zero")]
    [InlineData(0x003fd573u, "csrrwi a0, fcsr, 31")]
    [InlineData(0x06b6252fu, "amoadd.w.aqrl a0, a1, (a2)")]
    [InlineData(0x1405b52fu, "lr.d.aq a0, (a1)")]
    [InlineData(0x1ac5b52fu, "sc.d.rl a0, a2, (a1)")]
    [InlineData(0x0ff0000fu, "fence iorw, iorw")]
    [InlineData(0x0310000fu, "fence rw, w")]
    [InlineData(0x0100000fu, "fence w, 0")]              // PAUSE
    [InlineData(0x8330000fu, "fence.tso")]
    [InlineData(0x0000100fu, "fence.i")]
    [InlineData(0x12b50073u, "sfence.vma a0, a1")]
    [InlineData(0x30200073u, "mret")]
    [InlineData(0x10500073u, "wfi")]
    [InlineData(0x00c5f553u, "fadd.s fa0, fa1, fa2")]      // dyn is implied
    [InlineData(0x00c59553u, "fadd.s fa0, fa1, fa2, rtz")]
    [InlineData(0x02c5c553u, "fadd.d fa0, fa1, fa2, rmm")]
    [InlineData(0x68c5f543u, "fmadd.s fa0, fa1, fa2, fa3")]
    [InlineData(0x22c5a553u, "fsgnjx.d fa0, fa1, fa2")]
    [InlineData(0xc2059553u, "fcvt.w.d a0, fa1, rtz")]
    [InlineData(0xd2050553u, "fcvt.d.w fa0, a0")]         // exact: RNE is how GAS writes it
    [InlineData(0xd2057553u, "fcvt.d.w fa0, a0, dyn")]
    [InlineData(0x42058553u, "fcvt.d.s fa0, fa1")]
    [InlineData(0xe2058553u, "fmv.x.d a0, fa1")]
    [InlineData(0xf2050553u, "fmv.d.x fa0, a0")]
    [InlineData(0xa2b5a553u, "feq.d a0, fa1, fa1")]
    public void Formats32(uint raw, string text) => Assert.Equal(text, Disassembler.Format(Decoder.Decode(raw), Pc));

    [Theory]
    [InlineData(0x1fe8, "c.addi4spn a0, sp, 1020")]
    [InlineData(0x4188, "c.lw a0, 0(a1)")]
    [InlineData(0x7d7c, "c.ld a5, 248(a0)")]
    [InlineData(0x3d7c, "c.fld fa5, 248(a0)")]
    [InlineData(0xfd7c, "c.sd a5, 248(a0)")]
    [InlineData(0x1501, "c.addi a0, -32")]
    [InlineData(0x0001, "c.addi zero, 0")]              // c.nop
    [InlineData(0x357d, "c.addiw a0, -1")]
    [InlineData(0x4505, "c.li a0, 1")]
    [InlineData(0x7101, "c.addi16sp sp, -512")]
    [InlineData(0x7505, "c.lui a0, 0xfffe1")]
    [InlineData(0x9101, "c.srli a0, 32")]
    [InlineData(0x8001, "c.srli64 s0")]
    [InlineData(0x9979, "c.andi a0, -2")]
    [InlineData(0x8d05, "c.sub a0, s1")]
    [InlineData(0x9d25, "c.addw a0, s1")]
    [InlineData(0xa001, "c.j 0x80000000")]
    [InlineData(0xbffd, "c.j 0x7ffffffe")]
    [InlineData(0xb001, "c.j 0x7ffff800")]              // most negative
    [InlineData(0xc101, "c.beqz a0, 0x80000000")]
    [InlineData(0xf101, "c.bnez a0, 0x7fffff00")]       // most negative
    [InlineData(0xcd7d, "c.beqz a0, 0x800000fe")]       // most positive
    [InlineData(0x0506, "c.slli a0, 1")]
    [InlineData(0x0502, "c.slli64 a0")]
    [InlineData(0x6522, "c.ldsp a0, 8(sp)")]
    [InlineData(0x2002, "c.fldsp ft0, 0(sp)")]
    [InlineData(0x4532, "c.lwsp a0, 12(sp)")]
    [InlineData(0x8082, "c.jr ra")]
    [InlineData(0x9582, "c.jalr a1")]
    [InlineData(0x852e, "c.mv a0, a1")]
    [InlineData(0x952e, "c.add a0, a1")]
    [InlineData(0x9002, "c.ebreak")]
    [InlineData(0xe42a, "c.sdsp a0, 8(sp)")]
    [InlineData(0xa42a, "c.fsdsp fa0, 8(sp)")]
    [InlineData(0xc62a, "c.swsp a0, 12(sp)")]
    public void FormatsCompressedInTheirOwnSyntax(int raw, string text) =>
        Assert.Equal(text, Disassembler.Format(Decoder.Decode((uint)raw), Pc));

    [Theory]
    [InlineData(0x0000u, ".insn 0x0000 (illegal)")]
    [InlineData(0x00c5d553u, ".insn 0x00c5d553 (illegal)")] // fadd.s with reserved rm 101
    [InlineData(0xffffffffu, ".insn 0xffff (illegal)")]      // longer than 32 bits
    public void FormatsIllegal(uint raw, string text) => Assert.Equal(text, Disassembler.Format(Decoder.Decode(raw), Pc));

    [Fact]
    public void EveryLegalCompressedEncodingFormatsWithoutThrowing()
    {
        for (int v = 0; v < 65536; v++)
        {
            if ((v & 3) == 3) continue;
            string s = Disassembler.Format(Decoder.Decode((uint)v), Pc);
            Assert.False(string.IsNullOrEmpty(s));
        }
    }
}
