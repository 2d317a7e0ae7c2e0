using System.Globalization;
using System.Text;
using Trapeze.Core.Isa;

namespace Trapeze.Core.Tests.Isa;

/// <summary>
/// Generates GNU assembler source holding every entry of <see cref="DecodeTable"/> with a spread of registers
/// and immediates: the extremes of each immediate format, branch and jump offsets both ways, every shift
/// amount boundary, x0 as destination and source, each explicit rounding mode and dyn, each aq/rl
/// combination, every fence set pair, named and numbered CSRs. Encodings GAS will not accept (hints,
/// reserved fields, rounding modes on exact conversions) are emitted as <c>.insn</c> words.
/// </summary>
public static class Rv64gcSource
{
    private static readonly int[] Regs = [0, 1, 2, 5, 10, 15, 16, 31];
    private static readonly int[] PrimeRegs = [8, 9, 12, 15];
    private static readonly string[] RoundingModes = ["rne", "rtz", "rdn", "rup", "rmm", ""];
    private static readonly string[] Csrs =
    [
        "fflags", "frm", "fcsr", "cycle", "time", "instret", "hpmcounter31", "sstatus", "sie", "stvec", "sscratch",
        "sepc", "scause", "stval", "sip", "satp", "mstatus", "misa", "medeleg", "mideleg", "mie", "mtvec", "mscratch",
        "mepc", "mcause", "mtval", "mip", "mhartid", "mvendorid", "pmpcfg0", "pmpaddr63", "mcycle", "minstret",
        "0x000", "0x7c0", "0x800", "0xbff", "0xfff", "4095", "1",
    ];

    public static string Build()
    {
        var s = new StringBuilder();
        s.AppendLine(".option norelax");
        // 32-bit encodings first, with compression off so that GAS keeps each one as written.
        s.AppendLine(".option push");
        s.AppendLine(".option norvc");
        var rng = new Random(20240611);
        foreach (var e in DecodeTable.Entries)
            if (!e.Compressed) Emit32(s, e, rng);
        Emit32Raw(s);
        s.AppendLine(".option pop");
        s.AppendLine(".option rvc");
        foreach (var e in DecodeTable.Entries)
            if (e.Compressed) Emit16(s, e);
        Emit16Raw(s);
        return s.ToString();
    }

    private static string X(int r) => "x" + r;
    private static string F(int r) => "f" + r;
    private static string Off(long o) => o < 0 ? $".-{-o}" : $".+{o}";

    private static IEnumerable<(int, int, int)> Triples(Random rng)
    {
        for (int i = 0; i < Regs.Length; i++) yield return (Regs[i], Regs[(i + 3) % Regs.Length], Regs[(i + 5) % Regs.Length]);
        yield return (0, 0, 0);
        yield return (31, 31, 31);
        for (int i = 0; i < 3; i++) yield return (rng.Next(32), rng.Next(32), rng.Next(32));
    }

    private static void Emit32(StringBuilder s, DecodeEntry e, Random rng)
    {
        string m = e.Mnemonic;
        void Line(string operands) => s.Append(m).Append(' ').AppendLine(operands);
        int[] imm12 = [-2048, -1, 0, 1, 2047, rng.Next(-2048, 2048)];
        var triples = Triples(rng).ToArray();
        switch (e.Format)
        {
            case InsnFormat.None:
                Line("");
                break;
            case InsnFormat.R:
                foreach (var (a, b, c) in triples) Line($"{X(a)}, {X(b)}, {X(c)}");
                break;
            case InsnFormat.I when e.Op == Op.Jalr:
                for (int i = 0; i < triples.Length; i++) Line($"{X(triples[i].Item1)}, {imm12[i % imm12.Length]}({X(triples[i].Item2)})");
                break;
            case InsnFormat.I:
                for (int i = 0; i < triples.Length; i++) Line($"{X(triples[i].Item1)}, {X(triples[i].Item2)}, {imm12[i % imm12.Length]}");
                break;
            case InsnFormat.ShiftI:
            {
                int[] shamts = e.Op is Op.Slliw or Op.Srliw or Op.Sraiw ? [0, 1, 15, 31] : [0, 1, 31, 32, 63];
                for (int i = 0; i < triples.Length; i++) Line($"{X(triples[i].Item1)}, {X(triples[i].Item2)}, {shamts[i % shamts.Length]}");
                break;
            }
            case InsnFormat.Load:
                for (int i = 0; i < triples.Length; i++) Line($"{X(triples[i].Item1)}, {imm12[i % imm12.Length]}({X(triples[i].Item2)})");
                break;
            case InsnFormat.Store:
                for (int i = 0; i < triples.Length; i++) Line($"{X(triples[i].Item3)}, {imm12[i % imm12.Length]}({X(triples[i].Item2)})");
                break;
            case InsnFormat.FLoad:
                for (int i = 0; i < triples.Length; i++) Line($"{F(triples[i].Item1)}, {imm12[i % imm12.Length]}({X(triples[i].Item2)})");
                break;
            case InsnFormat.FStore:
                for (int i = 0; i < triples.Length; i++) Line($"{F(triples[i].Item3)}, {imm12[i % imm12.Length]}({X(triples[i].Item2)})");
                break;
            case InsnFormat.Branch:
            {
                long[] offsets = [-4096, -4094, -2, 0, 2, 4, 2048, 4094, 2 * rng.Next(-2048, 2047)];
                for (int i = 0; i < offsets.Length; i++)
                    Line($"{X(triples[i % triples.Length].Item2)}, {X(triples[i % triples.Length].Item3)}, {Off(offsets[i])}");
                break;
            }
            case InsnFormat.J:
            {
                long[] offsets = [-1048576, -1048574, -4096, -2, 0, 2, 2048, 1048574, 2 * rng.Next(-524288, 524287)];
                for (int i = 0; i < offsets.Length; i++) Line($"{X(triples[i % triples.Length].Item1)}, {Off(offsets[i])}");
                break;
            }
            case InsnFormat.U:
            {
                int[] values = [0, 1, 0x7ffff, 0x80000, 0xfffff, rng.Next(0x100000)];
                for (int i = 0; i < values.Length; i++) Line($"{X(triples[i].Item1)}, 0x{values[i]:x}");
                break;
            }
            case InsnFormat.Csr:
                for (int i = 0; i < Csrs.Length; i++) Line($"{X(triples[i % triples.Length].Item1)}, {Csrs[i]}, {X(triples[(i + 1) % triples.Length].Item2)}");
                break;
            case InsnFormat.CsrI:
            {
                int[] uimm = [0, 1, 16, 31];
                for (int i = 0; i < Csrs.Length; i++) Line($"{X(triples[i % triples.Length].Item1)}, {Csrs[i]}, {uimm[i % uimm.Length]}");
                break;
            }
            case InsnFormat.Amo or InsnFormat.Lr:
            {
                string baseName = m;
                foreach (string order in new[] { "", ".aq", ".rl", ".aqrl" })
                {
                    foreach (var (a, b, c) in triples.Take(5))
                    {
                        s.Append(baseName).Append(order).Append(' ');
                        s.AppendLine(e.Format == InsnFormat.Lr ? $"{X(a)}, ({X(b)})" : $"{X(a)}, {X(c)}, ({X(b)})");
                    }
                }
                break;
            }
            case InsnFormat.Fence:
                for (int pred = 1; pred < 16; pred++)
                    for (int succ = 1; succ < 16; succ++)
                        Line($"{FenceSet(pred)}, {FenceSet(succ)}");
                s.AppendLine("fence.tso");
                break;
            case InsnFormat.SfenceVma:
                foreach (var (a, b, _) in triples) Line($"{X(a)}, {X(b)}");
                break;
            case InsnFormat.FR or InsnFormat.FR1 or InsnFormat.FR4 or InsnFormat.FCmp or InsnFormat.FToX or InsnFormat.XToF:
                EmitFp(s, e, triples);
                break;
            default:
                throw new InvalidOperationException($"no source generator for {e.Format}");
        }
    }

    private static void EmitFp(StringBuilder s, DecodeEntry e, (int, int, int)[] triples)
    {
        // GAS 2.40 rejects a rounding mode on the exact conversions; those are covered by raw words below.
        bool exact = e.Op is Op.FcvtDS or Op.FcvtDW or Op.FcvtDWu;
        string[] modes = e.HasRoundingMode && !exact ? RoundingModes : [""];
        int i = 0;
        foreach (string rm in modes)
        {
            foreach (var (a, b, c) in triples.Take(modes.Length == 1 ? triples.Length : 4))
            {
                int d4 = (a + b + c + i++) & 31;
                string ops = e.Format switch
                {
                    InsnFormat.FR => $"{F(a)}, {F(b)}, {F(c)}",
                    InsnFormat.FR1 => $"{F(a)}, {F(b)}",
                    InsnFormat.FR4 => $"{F(a)}, {F(b)}, {F(c)}, {F(d4)}",
                    InsnFormat.FCmp => $"{X(a)}, {F(b)}, {F(c)}",
                    InsnFormat.FToX => $"{X(a)}, {F(b)}",
                    _ => $"{F(a)}, {X(b)}",
                };
                s.Append(e.Mnemonic).Append(' ').Append(ops);
                if (rm.Length > 0) s.Append(", ").Append(rm);
                s.AppendLine();
            }
        }
    }

    /// <summary>32-bit encodings GAS will not write from mnemonics.</summary>
    private static void Emit32Raw(StringBuilder s)
    {
        void Word(uint w) => s.AppendLine(string.Create(CultureInfo.InvariantCulture, $".insn 4, 0x{w:x8}"));
        // FENCE with empty predecessor or successor sets, PAUSE (fence w,0), reserved rd/rs1/fm, FENCE.I with
        // reserved fields.
        Word(0x0000000f); Word(0x0100000f); Word(0x0010000f); Word(0x0ff0050f); Word(0x0ff5000f); Word(0x1ff0000f);
        Word(0xf330000f); Word(0x8ff0000f); Word(0x0000150f); Word(0xfff0100f);
        // Exact conversions with every rounding mode, and the reserved modes on rounding instructions.
        foreach (uint op in new uint[] { 0x42058553, 0xd2050553, 0xd2150553 })
            for (uint rm = 0; rm < 8; rm++) Word(op | rm << 12);
        foreach (uint op in new uint[] { 0x00c58553, 0x02c58553, 0x68c58543, 0x58058553, 0xc0058553, 0xd0058553, 0x40158553 })
            for (uint rm = 5; rm < 7; rm++) Word(op | rm << 12);
        // RV64 srai/srli with shamt[5] set, and the reserved funct6 patterns around them.
        Word(0x43f55513); Word(0x03f55513); Word(0x83f55513); Word(0x04051513);
        // Illegal: custom-3, lr with rs2 != 0, an ecall with rd != 0.
        Word(0x0000007b); Word(0x1015a52f); Word(0x000000f3);
    }

    private static void Emit16(StringBuilder s, DecodeEntry e)
    {
        string m = e.Mnemonic;
        void Line(string operands) => s.Append(m).Append(' ').AppendLine(operands);
        bool fp = e.Op is Op.Fld or Op.Fsd;
        string R(int r) => fp ? F(r) : X(r);
        int[] full = [1, 3, 10, 31];
        switch (e.CForm)
        {
            case CForm.Addi4spn:
                foreach (int imm in new[] { 4, 8, 512, 1020 }) foreach (int r in PrimeRegs) Line($"{X(r)}, x2, {imm}");
                break;
            case CForm.Ld4 or CForm.St4:
                foreach (int imm in new[] { 0, 4, 64, 124 }) foreach (int r in PrimeRegs) Line($"{R(r)}, {imm}({X(PrimeRegs[^1] - r + 8)})");
                break;
            case CForm.Ld8 or CForm.St8:
                foreach (int imm in new[] { 0, 8, 128, 248 }) foreach (int r in PrimeRegs) Line($"{R(r)}, {imm}({X(PrimeRegs[^1] - r + 8)})");
                break;
            case CForm.Addi or CForm.Li or CForm.Andi or CForm.Addiw:
            {
                int[] regs = e.CForm == CForm.Andi ? PrimeRegs : full;
                foreach (int imm in new[] { -32, -1, 1, 31 }) foreach (int r in regs) Line($"{X(r)}, {imm}");
                break;
            }
            case CForm.Addi16sp:
                foreach (int imm in new[] { -512, -16, 16, 496 }) Line($"x2, {imm}");
                break;
            case CForm.Lui:
                foreach (int imm in new[] { 1, 0x1f, 0xfffe0, 0xfffff }) foreach (int r in new[] { 1, 3, 31 }) Line($"{X(r)}, 0x{imm:x}");
                break;
            case CForm.ShiftRight:
                foreach (int sh in new[] { 1, 31, 32, 63 }) foreach (int r in PrimeRegs) Line($"{X(r)}, {sh}");
                break;
            case CForm.Slli:
                foreach (int sh in new[] { 1, 31, 32, 63 }) foreach (int r in full) Line($"{X(r)}, {sh}");
                break;
            case CForm.Arith:
                foreach (int a in PrimeRegs) foreach (int b in PrimeRegs) Line($"{X(a)}, {X(b)}");
                break;
            case CForm.J:
                foreach (int off in new[] { -2048, -2, 0, 2, 1024, 2046 }) Line(Off(off));
                break;
            case CForm.Beqz:
                foreach (int off in new[] { -256, -2, 0, 2, 128, 254 }) foreach (int r in new[] { 8, 15 }) Line($"{X(r)}, {Off(off)}");
                break;
            case CForm.LwSp:
                foreach (int imm in new[] { 0, 4, 128, 252 }) foreach (int r in full) Line($"{X(r)}, {imm}(x2)");
                break;
            case CForm.LdSp:
                foreach (int imm in new[] { 0, 8, 256, 504 }) foreach (int r in fp ? [0, .. full] : full) Line($"{R(r)}, {imm}(x2)");
                break;
            case CForm.SwSp:
                foreach (int imm in new[] { 0, 4, 128, 252 }) foreach (int r in new[] { 0, 1, 31 }) Line($"{X(r)}, {imm}(x2)");
                break;
            case CForm.SdSp:
                foreach (int imm in new[] { 0, 8, 256, 504 }) foreach (int r in new[] { 0, 1, 31 }) Line($"{R(r)}, {imm}(x2)");
                break;
            case CForm.Jr or CForm.Jalr:
                foreach (int r in full) Line(X(r));
                break;
            case CForm.Mv or CForm.AddRR:
                foreach (int a in full) foreach (int b in full) Line($"{X(a)}, {X(b)}");
                break;
            case CForm.None:
                Line("");
                break;
            default:
                throw new InvalidOperationException($"no source generator for {e.CForm}");
        }
    }

    /// <summary>Compressed HINTs and reserved encodings (Unpriv. spec 16.7, Table 16.3) as raw halfwords.</summary>
    private static void Emit16Raw(StringBuilder s)
    {
        void Half(ushort h) => s.AppendLine(string.Create(CultureInfo.InvariantCulture, $".insn 2, 0x{h:x4}"));
        // HINTs: c.nop with imm, c.addi with imm 0, c.li/c.lui/c.mv/c.add/c.slli with rd 0, shifts by 0.
        Half(0x0001); Half(0x1001); Half(0x0501); Half(0x4001); Half(0x6005); Half(0x800a); Half(0x900a);
        Half(0x0006); Half(0x0502); Half(0x8001); Half(0x8401); Half(0x8081);
        // Reserved: all zeros, c.addi4spn 0, c.addiw rd 0, c.addi16sp 0, c.lui imm 0, c.jr x0, c.lwsp/c.ldsp rd 0,
        // the RV32-only/reserved CA slots.
        Half(0x0000); Half(0x0004); Half(0x2001); Half(0x6101); Half(0x6501); Half(0x8002); Half(0x4002); Half(0x6002);
        Half(0x9c41); Half(0x9c61);
        // Not reserved: c.fldsp with f0.
        Half(0x2002);
    }

    private static string FenceSet(int bits)
    {
        var s = new StringBuilder();
        if ((bits & 8) != 0) s.Append('i');
        if ((bits & 4) != 0) s.Append('o');
        if ((bits & 2) != 0) s.Append('r');
        if ((bits & 1) != 0) s.Append('w');
        return s.ToString();
    }
}
