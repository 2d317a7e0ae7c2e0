namespace Trapeze.Core.Isa;

/// <summary>The kind of compressed encoding: which fields hold the registers and how the immediate is
/// scattered (Unpriv. spec, chapter "C" Standard Extension, Table 16.1 formats).</summary>
public enum CForm : byte
{
    None,
    Addi4spn, Ld4, Ld8, St4, St8,          // CIW, CL (word / double), CS (word / double)
    Addi, Addiw, Li, Addi16sp, Lui,        // CI forms of quadrant 1
    ShiftRight, Andi, Arith,               // CB/CA forms of quadrant 1 (rd' = rd'/rs1')
    J, Beqz,                               // CJ, CB
    Slli, LwSp, LdSp, Jr, Mv, Jalr, AddRR, SwSp, SdSp, // quadrant 2
}

/// <summary>One line of the decode table: the bit pattern, the mnemonic, the operation and its operand
/// layout. Interpreter, translator and disassembler are all driven by this table (STYLE rule 1).</summary>
public sealed record DecodeEntry(string Mnemonic, uint Mask, uint Match, Op Op, InsnFormat Format, CForm CForm, bool Compressed)
{
    /// <summary>True when funct3 is the FP rounding-mode field rather than part of the opcode.</summary>
    public bool HasRoundingMode { get; } = !Compressed && (Mask & 0x7000) == 0
        && Format is InsnFormat.FR or InsnFormat.FR1 or InsnFormat.FR4 or InsnFormat.FToX or InsnFormat.XToF;
}

public static class DecodeTable
{
    /// <summary>All encodings. Patterns are written most-significant bit first; '0'/'1' are fixed bits,
    /// '.' any bit, spaces separate fields for readability.</summary>
    public static readonly DecodeEntry[] Entries =
    [
        // ---- RV64I (Unpriv. spec chapter 2 and 4)
        E("lui",    "....................  ..... 0110111", Op.Lui, InsnFormat.U),
        E("auipc",  "....................  ..... 0010111", Op.Auipc, InsnFormat.U),
        E("jal",    "....................  ..... 1101111", Op.Jal, InsnFormat.J),
        E("jalr",   "............ ..... 000 ..... 1100111", Op.Jalr, InsnFormat.I),
        E("beq",    "....... ..... ..... 000 ..... 1100011", Op.Beq, InsnFormat.Branch),
        E("bne",    "....... ..... ..... 001 ..... 1100011", Op.Bne, InsnFormat.Branch),
        E("blt",    "....... ..... ..... 100 ..... 1100011", Op.Blt, InsnFormat.Branch),
        E("bge",    "....... ..... ..... 101 ..... 1100011", Op.Bge, InsnFormat.Branch),
        E("bltu",   "....... ..... ..... 110 ..... 1100011", Op.Bltu, InsnFormat.Branch),
        E("bgeu",   "....... ..... ..... 111 ..... 1100011", Op.Bgeu, InsnFormat.Branch),
        E("lb",     "............ ..... 000 ..... 0000011", Op.Lb, InsnFormat.Load),
        E("lh",     "............ ..... 001 ..... 0000011", Op.Lh, InsnFormat.Load),
        E("lw",     "............ ..... 010 ..... 0000011", Op.Lw, InsnFormat.Load),
        E("ld",     "............ ..... 011 ..... 0000011", Op.Ld, InsnFormat.Load),
        E("lbu",    "............ ..... 100 ..... 0000011", Op.Lbu, InsnFormat.Load),
        E("lhu",    "............ ..... 101 ..... 0000011", Op.Lhu, InsnFormat.Load),
        E("lwu",    "............ ..... 110 ..... 0000011", Op.Lwu, InsnFormat.Load),
        E("sb",     "....... ..... ..... 000 ..... 0100011", Op.Sb, InsnFormat.Store),
        E("sh",     "....... ..... ..... 001 ..... 0100011", Op.Sh, InsnFormat.Store),
        E("sw",     "....... ..... ..... 010 ..... 0100011", Op.Sw, InsnFormat.Store),
        E("sd",     "....... ..... ..... 011 ..... 0100011", Op.Sd, InsnFormat.Store),
        E("addi",   "............ ..... 000 ..... 0010011", Op.Addi, InsnFormat.I),
        E("slti",   "............ ..... 010 ..... 0010011", Op.Slti, InsnFormat.I),
        E("sltiu",  "............ ..... 011 ..... 0010011", Op.Sltiu, InsnFormat.I),
        E("xori",   "............ ..... 100 ..... 0010011", Op.Xori, InsnFormat.I),
        E("ori",    "............ ..... 110 ..... 0010011", Op.Ori, InsnFormat.I),
        E("andi",   "............ ..... 111 ..... 0010011", Op.Andi, InsnFormat.I),
        E("slli",   "000000 ...... ..... 001 ..... 0010011", Op.Slli, InsnFormat.ShiftI),
        E("srli",   "000000 ...... ..... 101 ..... 0010011", Op.Srli, InsnFormat.ShiftI),
        E("srai",   "010000 ...... ..... 101 ..... 0010011", Op.Srai, InsnFormat.ShiftI),
        E("add",    "0000000 ..... ..... 000 ..... 0110011", Op.Add, InsnFormat.R),
        E("sub",    "0100000 ..... ..... 000 ..... 0110011", Op.Sub, InsnFormat.R),
        E("sll",    "0000000 ..... ..... 001 ..... 0110011", Op.Sll, InsnFormat.R),
        E("slt",    "0000000 ..... ..... 010 ..... 0110011", Op.Slt, InsnFormat.R),
        E("sltu",   "0000000 ..... ..... 011 ..... 0110011", Op.Sltu, InsnFormat.R),
        E("xor",    "0000000 ..... ..... 100 ..... 0110011", Op.Xor, InsnFormat.R),
        E("srl",    "0000000 ..... ..... 101 ..... 0110011", Op.Srl, InsnFormat.R),
        E("sra",    "0100000 ..... ..... 101 ..... 0110011", Op.Sra, InsnFormat.R),
        E("or",     "0000000 ..... ..... 110 ..... 0110011", Op.Or, InsnFormat.R),
        E("and",    "0000000 ..... ..... 111 ..... 0110011", Op.And, InsnFormat.R),
        E("addiw",  "............ ..... 000 ..... 0011011", Op.Addiw, InsnFormat.I),
        E("slliw",  "0000000 ..... ..... 001 ..... 0011011", Op.Slliw, InsnFormat.ShiftI),
        E("srliw",  "0000000 ..... ..... 101 ..... 0011011", Op.Srliw, InsnFormat.ShiftI),
        E("sraiw",  "0100000 ..... ..... 101 ..... 0011011", Op.Sraiw, InsnFormat.ShiftI),
        E("addw",   "0000000 ..... ..... 000 ..... 0111011", Op.Addw, InsnFormat.R),
        E("subw",   "0100000 ..... ..... 000 ..... 0111011", Op.Subw, InsnFormat.R),
        E("sllw",   "0000000 ..... ..... 001 ..... 0111011", Op.Sllw, InsnFormat.R),
        E("srlw",   "0000000 ..... ..... 101 ..... 0111011", Op.Srlw, InsnFormat.R),
        E("sraw",   "0100000 ..... ..... 101 ..... 0111011", Op.Sraw, InsnFormat.R),
        E("fence",  "............ ..... 000 ..... 0001111", Op.Fence, InsnFormat.Fence),
        E("fence.i","............ ..... 001 ..... 0001111", Op.FenceI, InsnFormat.None),
        E("ecall",  "000000000000 00000 000 00000 1110011", Op.Ecall, InsnFormat.None),
        E("ebreak", "000000000001 00000 000 00000 1110011", Op.Ebreak, InsnFormat.None),
        // ---- Privileged (Priv. spec 3.3, 4.2.1)
        E("sret",   "0001000 00010 00000 000 00000 1110011", Op.Sret, InsnFormat.None),
        E("mret",   "0011000 00010 00000 000 00000 1110011", Op.Mret, InsnFormat.None),
        E("wfi",    "0001000 00101 00000 000 00000 1110011", Op.Wfi, InsnFormat.None),
        E("sfence.vma", "0001001 ..... ..... 000 00000 1110011", Op.SfenceVma, InsnFormat.SfenceVma),
        // ---- Zicsr
        E("csrrw",  "............ ..... 001 ..... 1110011", Op.Csrrw, InsnFormat.Csr),
        E("csrrs",  "............ ..... 010 ..... 1110011", Op.Csrrs, InsnFormat.Csr),
        E("csrrc",  "............ ..... 011 ..... 1110011", Op.Csrrc, InsnFormat.Csr),
        E("csrrwi", "............ ..... 101 ..... 1110011", Op.Csrrwi, InsnFormat.CsrI),
        E("csrrsi", "............ ..... 110 ..... 1110011", Op.Csrrsi, InsnFormat.CsrI),
        E("csrrci", "............ ..... 111 ..... 1110011", Op.Csrrci, InsnFormat.CsrI),
        // ---- RV64M
        E("mul",    "0000001 ..... ..... 000 ..... 0110011", Op.Mul, InsnFormat.R),
        E("mulh",   "0000001 ..... ..... 001 ..... 0110011", Op.Mulh, InsnFormat.R),
        E("mulhsu", "0000001 ..... ..... 010 ..... 0110011", Op.Mulhsu, InsnFormat.R),
        E("mulhu",  "0000001 ..... ..... 011 ..... 0110011", Op.Mulhu, InsnFormat.R),
        E("div",    "0000001 ..... ..... 100 ..... 0110011", Op.Div, InsnFormat.R),
        E("divu",   "0000001 ..... ..... 101 ..... 0110011", Op.Divu, InsnFormat.R),
        E("rem",    "0000001 ..... ..... 110 ..... 0110011", Op.Rem, InsnFormat.R),
        E("remu",   "0000001 ..... ..... 111 ..... 0110011", Op.Remu, InsnFormat.R),
        E("mulw",   "0000001 ..... ..... 000 ..... 0111011", Op.Mulw, InsnFormat.R),
        E("divw",   "0000001 ..... ..... 100 ..... 0111011", Op.Divw, InsnFormat.R),
        E("divuw",  "0000001 ..... ..... 101 ..... 0111011", Op.Divuw, InsnFormat.R),
        E("remw",   "0000001 ..... ..... 110 ..... 0111011", Op.Remw, InsnFormat.R),
        E("remuw",  "0000001 ..... ..... 111 ..... 0111011", Op.Remuw, InsnFormat.R),
        // ---- RV64A (aq/rl in bits 26:25)
        E("lr.w",      "00010 .. 00000 ..... 010 ..... 0101111", Op.LrW, InsnFormat.Lr),
        E("sc.w",      "00011 .. ..... ..... 010 ..... 0101111", Op.ScW, InsnFormat.Amo),
        E("amoswap.w", "00001 .. ..... ..... 010 ..... 0101111", Op.AmoswapW, InsnFormat.Amo),
        E("amoadd.w",  "00000 .. ..... ..... 010 ..... 0101111", Op.AmoaddW, InsnFormat.Amo),
        E("amoxor.w",  "00100 .. ..... ..... 010 ..... 0101111", Op.AmoxorW, InsnFormat.Amo),
        E("amoand.w",  "01100 .. ..... ..... 010 ..... 0101111", Op.AmoandW, InsnFormat.Amo),
        E("amoor.w",   "01000 .. ..... ..... 010 ..... 0101111", Op.AmoorW, InsnFormat.Amo),
        E("amomin.w",  "10000 .. ..... ..... 010 ..... 0101111", Op.AmominW, InsnFormat.Amo),
        E("amomax.w",  "10100 .. ..... ..... 010 ..... 0101111", Op.AmomaxW, InsnFormat.Amo),
        E("amominu.w", "11000 .. ..... ..... 010 ..... 0101111", Op.AmominuW, InsnFormat.Amo),
        E("amomaxu.w", "11100 .. ..... ..... 010 ..... 0101111", Op.AmomaxuW, InsnFormat.Amo),
        E("lr.d",      "00010 .. 00000 ..... 011 ..... 0101111", Op.LrD, InsnFormat.Lr),
        E("sc.d",      "00011 .. ..... ..... 011 ..... 0101111", Op.ScD, InsnFormat.Amo),
        E("amoswap.d", "00001 .. ..... ..... 011 ..... 0101111", Op.AmoswapD, InsnFormat.Amo),
        E("amoadd.d",  "00000 .. ..... ..... 011 ..... 0101111", Op.AmoaddD, InsnFormat.Amo),
        E("amoxor.d",  "00100 .. ..... ..... 011 ..... 0101111", Op.AmoxorD, InsnFormat.Amo),
        E("amoand.d",  "01100 .. ..... ..... 011 ..... 0101111", Op.AmoandD, InsnFormat.Amo),
        E("amoor.d",   "01000 .. ..... ..... 011 ..... 0101111", Op.AmoorD, InsnFormat.Amo),
        E("amomin.d",  "10000 .. ..... ..... 011 ..... 0101111", Op.AmominD, InsnFormat.Amo),
        E("amomax.d",  "10100 .. ..... ..... 011 ..... 0101111", Op.AmomaxD, InsnFormat.Amo),
        E("amominu.d", "11000 .. ..... ..... 011 ..... 0101111", Op.AmominuD, InsnFormat.Amo),
        E("amomaxu.d", "11100 .. ..... ..... 011 ..... 0101111", Op.AmomaxuD, InsnFormat.Amo),
        // ---- RV64F (fmt 00)
        E("flw",       "............ ..... 010 ..... 0000111", Op.Flw, InsnFormat.FLoad),
        E("fsw",       "....... ..... ..... 010 ..... 0100111", Op.Fsw, InsnFormat.FStore),
        E("fmadd.s",   "..... 00 ..... ..... ... ..... 1000011", Op.FmaddS, InsnFormat.FR4),
        E("fmsub.s",   "..... 00 ..... ..... ... ..... 1000111", Op.FmsubS, InsnFormat.FR4),
        E("fnmsub.s",  "..... 00 ..... ..... ... ..... 1001011", Op.FnmsubS, InsnFormat.FR4),
        E("fnmadd.s",  "..... 00 ..... ..... ... ..... 1001111", Op.FnmaddS, InsnFormat.FR4),
        E("fadd.s",    "0000000 ..... ..... ... ..... 1010011", Op.FaddS, InsnFormat.FR),
        E("fsub.s",    "0000100 ..... ..... ... ..... 1010011", Op.FsubS, InsnFormat.FR),
        E("fmul.s",    "0001000 ..... ..... ... ..... 1010011", Op.FmulS, InsnFormat.FR),
        E("fdiv.s",    "0001100 ..... ..... ... ..... 1010011", Op.FdivS, InsnFormat.FR),
        E("fsqrt.s",   "0101100 00000 ..... ... ..... 1010011", Op.FsqrtS, InsnFormat.FR1),
        E("fsgnj.s",   "0010000 ..... ..... 000 ..... 1010011", Op.FsgnjS, InsnFormat.FR),
        E("fsgnjn.s",  "0010000 ..... ..... 001 ..... 1010011", Op.FsgnjnS, InsnFormat.FR),
        E("fsgnjx.s",  "0010000 ..... ..... 010 ..... 1010011", Op.FsgnjxS, InsnFormat.FR),
        E("fmin.s",    "0010100 ..... ..... 000 ..... 1010011", Op.FminS, InsnFormat.FR),
        E("fmax.s",    "0010100 ..... ..... 001 ..... 1010011", Op.FmaxS, InsnFormat.FR),
        E("fcvt.w.s",  "1100000 00000 ..... ... ..... 1010011", Op.FcvtWS, InsnFormat.FToX),
        E("fcvt.wu.s", "1100000 00001 ..... ... ..... 1010011", Op.FcvtWuS, InsnFormat.FToX),
        E("fcvt.l.s",  "1100000 00010 ..... ... ..... 1010011", Op.FcvtLS, InsnFormat.FToX),
        E("fcvt.lu.s", "1100000 00011 ..... ... ..... 1010011", Op.FcvtLuS, InsnFormat.FToX),
        E("fmv.x.w",   "1110000 00000 ..... 000 ..... 1010011", Op.FmvXW, InsnFormat.FToX),
        E("fclass.s",  "1110000 00000 ..... 001 ..... 1010011", Op.FclassS, InsnFormat.FToX),
        E("feq.s",     "1010000 ..... ..... 010 ..... 1010011", Op.FeqS, InsnFormat.FCmp),
        E("flt.s",     "1010000 ..... ..... 001 ..... 1010011", Op.FltS, InsnFormat.FCmp),
        E("fle.s",     "1010000 ..... ..... 000 ..... 1010011", Op.FleS, InsnFormat.FCmp),
        E("fcvt.s.w",  "1101000 00000 ..... ... ..... 1010011", Op.FcvtSW, InsnFormat.XToF),
        E("fcvt.s.wu", "1101000 00001 ..... ... ..... 1010011", Op.FcvtSWu, InsnFormat.XToF),
        E("fcvt.s.l",  "1101000 00010 ..... ... ..... 1010011", Op.FcvtSL, InsnFormat.XToF),
        E("fcvt.s.lu", "1101000 00011 ..... ... ..... 1010011", Op.FcvtSLu, InsnFormat.XToF),
        E("fmv.w.x",   "1111000 00000 ..... 000 ..... 1010011", Op.FmvWX, InsnFormat.XToF),
        // ---- RV64D (fmt 01)
        E("fld",       "............ ..... 011 ..... 0000111", Op.Fld, InsnFormat.FLoad),
        E("fsd",       "....... ..... ..... 011 ..... 0100111", Op.Fsd, InsnFormat.FStore),
        E("fmadd.d",   "..... 01 ..... ..... ... ..... 1000011", Op.FmaddD, InsnFormat.FR4),
        E("fmsub.d",   "..... 01 ..... ..... ... ..... 1000111", Op.FmsubD, InsnFormat.FR4),
        E("fnmsub.d",  "..... 01 ..... ..... ... ..... 1001011", Op.FnmsubD, InsnFormat.FR4),
        E("fnmadd.d",  "..... 01 ..... ..... ... ..... 1001111", Op.FnmaddD, InsnFormat.FR4),
        E("fadd.d",    "0000001 ..... ..... ... ..... 1010011", Op.FaddD, InsnFormat.FR),
        E("fsub.d",    "0000101 ..... ..... ... ..... 1010011", Op.FsubD, InsnFormat.FR),
        E("fmul.d",    "0001001 ..... ..... ... ..... 1010011", Op.FmulD, InsnFormat.FR),
        E("fdiv.d",    "0001101 ..... ..... ... ..... 1010011", Op.FdivD, InsnFormat.FR),
        E("fsqrt.d",   "0101101 00000 ..... ... ..... 1010011", Op.FsqrtD, InsnFormat.FR1),
        E("fsgnj.d",   "0010001 ..... ..... 000 ..... 1010011", Op.FsgnjD, InsnFormat.FR),
        E("fsgnjn.d",  "0010001 ..... ..... 001 ..... 1010011", Op.FsgnjnD, InsnFormat.FR),
        E("fsgnjx.d",  "0010001 ..... ..... 010 ..... 1010011", Op.FsgnjxD, InsnFormat.FR),
        E("fmin.d",    "0010101 ..... ..... 000 ..... 1010011", Op.FminD, InsnFormat.FR),
        E("fmax.d",    "0010101 ..... ..... 001 ..... 1010011", Op.FmaxD, InsnFormat.FR),
        E("fcvt.s.d",  "0100000 00001 ..... ... ..... 1010011", Op.FcvtSD, InsnFormat.FR1),
        E("fcvt.d.s",  "0100001 00000 ..... ... ..... 1010011", Op.FcvtDS, InsnFormat.FR1),
        E("feq.d",     "1010001 ..... ..... 010 ..... 1010011", Op.FeqD, InsnFormat.FCmp),
        E("flt.d",     "1010001 ..... ..... 001 ..... 1010011", Op.FltD, InsnFormat.FCmp),
        E("fle.d",     "1010001 ..... ..... 000 ..... 1010011", Op.FleD, InsnFormat.FCmp),
        E("fclass.d",  "1110001 00000 ..... 001 ..... 1010011", Op.FclassD, InsnFormat.FToX),
        E("fcvt.w.d",  "1100001 00000 ..... ... ..... 1010011", Op.FcvtWD, InsnFormat.FToX),
        E("fcvt.wu.d", "1100001 00001 ..... ... ..... 1010011", Op.FcvtWuD, InsnFormat.FToX),
        E("fcvt.l.d",  "1100001 00010 ..... ... ..... 1010011", Op.FcvtLD, InsnFormat.FToX),
        E("fcvt.lu.d", "1100001 00011 ..... ... ..... 1010011", Op.FcvtLuD, InsnFormat.FToX),
        E("fmv.x.d",   "1110001 00000 ..... 000 ..... 1010011", Op.FmvXD, InsnFormat.FToX),
        E("fcvt.d.w",  "1101001 00000 ..... ... ..... 1010011", Op.FcvtDW, InsnFormat.XToF),
        E("fcvt.d.wu", "1101001 00001 ..... ... ..... 1010011", Op.FcvtDWu, InsnFormat.XToF),
        E("fcvt.d.l",  "1101001 00010 ..... ... ..... 1010011", Op.FcvtDL, InsnFormat.XToF),
        E("fcvt.d.lu", "1101001 00011 ..... ... ..... 1010011", Op.FcvtDLu, InsnFormat.XToF),
        E("fmv.d.x",   "1111001 00000 ..... 000 ..... 1010011", Op.FmvDX, InsnFormat.XToF),
        // ---- RV64C (Unpriv. spec chapter 16); quadrant in bits 1:0, funct3 in 15:13
        C("c.addi4spn", "000 ........ ... 00", Op.Addi, InsnFormat.I, CForm.Addi4spn),
        C("c.fld",      "001 ... ... .. ... 00", Op.Fld, InsnFormat.FLoad, CForm.Ld8),
        C("c.lw",       "010 ... ... .. ... 00", Op.Lw, InsnFormat.Load, CForm.Ld4),
        C("c.ld",       "011 ... ... .. ... 00", Op.Ld, InsnFormat.Load, CForm.Ld8),
        C("c.fsd",      "101 ... ... .. ... 00", Op.Fsd, InsnFormat.FStore, CForm.St8),
        C("c.sw",       "110 ... ... .. ... 00", Op.Sw, InsnFormat.Store, CForm.St4),
        C("c.sd",       "111 ... ... .. ... 00", Op.Sd, InsnFormat.Store, CForm.St8),
        C("c.addi",     "000 . ..... ..... 01", Op.Addi, InsnFormat.I, CForm.Addi),
        C("c.addiw",    "001 . ..... ..... 01", Op.Addiw, InsnFormat.I, CForm.Addiw),
        C("c.li",       "010 . ..... ..... 01", Op.Addi, InsnFormat.I, CForm.Li),
        C("c.addi16sp", "011 . 00010 ..... 01", Op.Addi, InsnFormat.I, CForm.Addi16sp),
        C("c.lui",      "011 . ..... ..... 01", Op.Lui, InsnFormat.U, CForm.Lui),
        C("c.srli",     "100 . 00 ... ..... 01", Op.Srli, InsnFormat.ShiftI, CForm.ShiftRight),
        C("c.srai",     "100 . 01 ... ..... 01", Op.Srai, InsnFormat.ShiftI, CForm.ShiftRight),
        C("c.andi",     "100 . 10 ... ..... 01", Op.Andi, InsnFormat.I, CForm.Andi),
        C("c.sub",      "100 0 11 ... 00 ... 01", Op.Sub, InsnFormat.R, CForm.Arith),
        C("c.xor",      "100 0 11 ... 01 ... 01", Op.Xor, InsnFormat.R, CForm.Arith),
        C("c.or",       "100 0 11 ... 10 ... 01", Op.Or, InsnFormat.R, CForm.Arith),
        C("c.and",      "100 0 11 ... 11 ... 01", Op.And, InsnFormat.R, CForm.Arith),
        C("c.subw",     "100 1 11 ... 00 ... 01", Op.Subw, InsnFormat.R, CForm.Arith),
        C("c.addw",     "100 1 11 ... 01 ... 01", Op.Addw, InsnFormat.R, CForm.Arith),
        C("c.j",        "101 ........... 01", Op.Jal, InsnFormat.J, CForm.J),
        C("c.beqz",     "110 ... ... ..... 01", Op.Beq, InsnFormat.Branch, CForm.Beqz),
        C("c.bnez",     "111 ... ... ..... 01", Op.Bne, InsnFormat.Branch, CForm.Beqz),
        C("c.slli",     "000 . ..... ..... 10", Op.Slli, InsnFormat.ShiftI, CForm.Slli),
        C("c.fldsp",    "001 . ..... ..... 10", Op.Fld, InsnFormat.FLoad, CForm.LdSp),
        C("c.lwsp",     "010 . ..... ..... 10", Op.Lw, InsnFormat.Load, CForm.LwSp),
        C("c.ldsp",     "011 . ..... ..... 10", Op.Ld, InsnFormat.Load, CForm.LdSp),
        C("c.ebreak",   "100 1 00000 00000 10", Op.Ebreak, InsnFormat.None, CForm.None),
        C("c.jr",       "100 0 ..... 00000 10", Op.Jalr, InsnFormat.I, CForm.Jr),
        C("c.jalr",     "100 1 ..... 00000 10", Op.Jalr, InsnFormat.I, CForm.Jalr),
        C("c.mv",       "100 0 ..... ..... 10", Op.Add, InsnFormat.R, CForm.Mv),
        C("c.add",      "100 1 ..... ..... 10", Op.Add, InsnFormat.R, CForm.AddRR),
        C("c.fsdsp",    "101 ...... ..... 10", Op.Fsd, InsnFormat.FStore, CForm.SdSp),
        C("c.swsp",     "110 ...... ..... 10", Op.Sw, InsnFormat.Store, CForm.SwSp),
        C("c.sdsp",     "111 ...... ..... 10", Op.Sd, InsnFormat.Store, CForm.SdSp),
    ];

    private static DecodeEntry E(string mnemonic, string pattern, Op op, InsnFormat format) =>
        Make(mnemonic, pattern, 32, op, format, CForm.None, compressed: false);

    private static DecodeEntry C(string mnemonic, string pattern, Op op, InsnFormat format, CForm form) =>
        Make(mnemonic, pattern, 16, op, format, form, compressed: true);

    private static DecodeEntry Make(string mnemonic, string pattern, int width, Op op, InsnFormat format, CForm form, bool compressed)
    {
        uint mask = 0, match = 0;
        int bits = 0;
        foreach (char ch in pattern)
        {
            if (ch == ' ') continue;
            mask <<= 1; match <<= 1; bits++;
            switch (ch)
            {
                case '0': mask |= 1; break;
                case '1': mask |= 1; match |= 1; break;
                case '.': break;
                default: throw new InvalidOperationException($"decode table: bad character '{ch}' in {mnemonic}");
            }
        }
        if (bits != width)
            throw new InvalidOperationException($"decode table: {mnemonic} pattern has {bits} bits, expected {width}");
        return new DecodeEntry(mnemonic, mask, match, op, format, form, compressed);
    }
}
