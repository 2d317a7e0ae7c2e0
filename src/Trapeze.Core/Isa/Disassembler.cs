using Trapeze.Core.Cpu;

namespace Trapeze.Core.Isa;

/// <summary>Renders decoded instructions in the GNU assembler's syntax, driven by the decode table.</summary>
public static class Disassembler
{
    private static readonly string[] XNames =
    [
        "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5",
        "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6", "zero",
    ];

    private static readonly string[] FNames =
    [
        "ft0", "ft1", "ft2", "ft3", "ft4", "ft5", "ft6", "ft7", "fs0", "fs1", "fa0", "fa1", "fa2", "fa3", "fa4", "fa5",
        "fa6", "fa7", "fs2", "fs3", "fs4", "fs5", "fs6", "fs7", "fs8", "fs9", "fs10", "fs11", "ft8", "ft9", "ft10", "ft11",
    ];

    private static readonly string[] RoundingNames = ["rne", "rtz", "rdn", "rup", "rmm", "rm5", "rm6", "dyn"];

    public static string XReg(int r) => XNames[r];
    public static string FReg(int r) => FNames[r];

    /// <summary>Disassembles one instruction at <paramref name="pc"/> (used for branch targets).</summary>
    public static string Format(in DecodedInsn d, ulong pc)
    {
        if (d.Op == Op.Illegal || d.Entry >= DecodeTable.Entries.Length)
            return d.Length == 2 ? $".insn 0x{d.Raw:x4} (illegal)" : $".insn 0x{d.Raw:x8} (illegal)";
        var e = DecodeTable.Entries[d.Entry];
        if (e.Compressed) return FormatCompressed(e, d, pc);
        string m = e.Mnemonic;
        string x(int r) => XNames[r];
        string f(int r) => FNames[r];
        // The exact conversions are written without rm by GAS, which encodes them with rm = RNE; any other
        // mode is shown (including DYN, the default of the rounding instructions).
        bool exact = d.Op is Op.FcvtDS or Op.FcvtDW or Op.FcvtDWu;
        string rm = (exact ? d.Rm == 0 : d.Rm == 7) ? "" : ", " + RoundingNames[d.Rm];
        string aqrl = (d.Rm & 2) != 0 ? ((d.Rm & 1) != 0 ? ".aqrl" : ".aq") : ((d.Rm & 1) != 0 ? ".rl" : "");
        return e.Format switch
        {
            InsnFormat.None => m,
            InsnFormat.R => $"{m} {x(d.Rd)}, {x(d.Rs1)}, {x(d.Rs2)}",
            InsnFormat.I when d.Op == Op.Jalr => $"{m} {x(d.Rd)}, {d.Imm}({x(d.Rs1)})",
            InsnFormat.I => $"{m} {x(d.Rd)}, {x(d.Rs1)}, {d.Imm}",
            InsnFormat.ShiftI => $"{m} {x(d.Rd)}, {x(d.Rs1)}, {d.Imm}",
            InsnFormat.Load => $"{m} {x(d.Rd)}, {d.Imm}({x(d.Rs1)})",
            InsnFormat.Store => $"{m} {x(d.Rs2)}, {d.Imm}({x(d.Rs1)})",
            InsnFormat.Branch => $"{m} {x(d.Rs1)}, {x(d.Rs2)}, 0x{pc + (ulong)d.Imm:x}",
            InsnFormat.U => $"{m} {x(d.Rd)}, 0x{((ulong)d.Imm >> 12) & 0xfffff:x}",
            InsnFormat.J => $"{m} {x(d.Rd)}, 0x{pc + (ulong)d.Imm:x}",
            InsnFormat.Csr => $"{m} {x(d.Rd)}, {Csr.Name((ushort)d.Imm)}, {x(d.Rs1)}",
            InsnFormat.CsrI => $"{m} {x(d.Rd)}, {Csr.Name((ushort)d.Imm)}, {d.Rs1}",
            InsnFormat.Amo => $"{m}{aqrl} {x(d.Rd)}, {x(d.Rs2)}, ({x(d.Rs1)})",
            InsnFormat.Lr => $"{m}{aqrl} {x(d.Rd)}, ({x(d.Rs1)})",
            // Unpriv. spec 2.7: fm = 1000 with RW,RW is FENCE.TSO.
            InsnFormat.Fence when d.Imm == 0x833 => "fence.tso",
            InsnFormat.Fence => $"{m} {FenceSet((int)(d.Imm >> 4) & 15)}, {FenceSet((int)d.Imm & 15)}",
            InsnFormat.SfenceVma => $"{m} {x(d.Rs1)}, {x(d.Rs2)}",
            InsnFormat.FLoad => $"{m} {f(d.Rd)}, {d.Imm}({x(d.Rs1)})",
            InsnFormat.FStore => $"{m} {f(d.Rs2)}, {d.Imm}({x(d.Rs1)})",
            InsnFormat.FR when IsSignOrMinMax(d.Op) => $"{m} {f(d.Rd)}, {f(d.Rs1)}, {f(d.Rs2)}",
            InsnFormat.FR => $"{m} {f(d.Rd)}, {f(d.Rs1)}, {f(d.Rs2)}{rm}",
            InsnFormat.FR1 => $"{m} {f(d.Rd)}, {f(d.Rs1)}{rm}",
            InsnFormat.FR4 => $"{m} {f(d.Rd)}, {f(d.Rs1)}, {f(d.Rs2)}, {f(d.Rs3)}{rm}",
            InsnFormat.FCmp => $"{m} {x(d.Rd)}, {f(d.Rs1)}, {f(d.Rs2)}",
            InsnFormat.FToX when d.Op is Op.FmvXW or Op.FmvXD or Op.FclassS or Op.FclassD => $"{m} {x(d.Rd)}, {f(d.Rs1)}",
            InsnFormat.FToX => $"{m} {x(d.Rd)}, {f(d.Rs1)}{rm}",
            InsnFormat.XToF when d.Op is Op.FmvWX or Op.FmvDX => $"{m} {f(d.Rd)}, {x(d.Rs1)}",
            InsnFormat.XToF => $"{m} {f(d.Rd)}, {x(d.Rs1)}{rm}",
            _ => m,
        };
    }

    /// <summary>Compressed instructions in their own operand syntax (as GNU as accepts them), not the
    /// expansion's: "c.addi a0, 5", "c.lw a0, 4(a1)", "c.j 0x80000010".</summary>
    private static string FormatCompressed(DecodeEntry e, DecodedInsn d, ulong pc)
    {
        string m = e.Mnemonic;
        string x(int r) => XNames[r];
        bool fp = d.Op is Op.Fld or Op.Fsd;
        string r(int n) => fp ? FNames[n] : XNames[n];
        return e.CForm switch
        {
            CForm.Addi4spn => $"{m} {x(d.Rd)}, {x(d.Rs1)}, {d.Imm}",
            CForm.Ld4 or CForm.Ld8 or CForm.LwSp or CForm.LdSp => $"{m} {r(d.Rd)}, {d.Imm}({x(d.Rs1)})",
            CForm.St4 or CForm.St8 or CForm.SwSp or CForm.SdSp => $"{m} {r(d.Rs2)}, {d.Imm}({x(d.Rs1)})",
            CForm.Addi or CForm.Addiw or CForm.Li or CForm.Addi16sp or CForm.Andi => $"{m} {x(d.Rd)}, {d.Imm}",
            CForm.Lui => $"{m} {x(d.Rd)}, 0x{((ulong)d.Imm >> 12) & 0xfffff:x}",
            // A shift by 0 is a HINT in RV64C (Unpriv. spec 16.5); GNU and LLVM name it after the RV128
            // instruction with that encoding, since "c.slli rd, 0" does not assemble.
            CForm.ShiftRight or CForm.Slli when d.Imm == 0 => $"{m}64 {x(d.Rd)}",
            CForm.ShiftRight or CForm.Slli => $"{m} {x(d.Rd)}, {d.Imm}",
            CForm.Arith or CForm.Mv or CForm.AddRR => $"{m} {x(d.Rd)}, {x(d.Rs2)}",
            CForm.J => $"{m} 0x{pc + (ulong)d.Imm:x}",
            CForm.Beqz => $"{m} {x(d.Rs1)}, 0x{pc + (ulong)d.Imm:x}",
            CForm.Jr or CForm.Jalr => $"{m} {x(d.Rs1)}",
            _ => m,
        };
    }

    private static bool IsSignOrMinMax(Op op) => op is Op.FsgnjS or Op.FsgnjnS or Op.FsgnjxS or Op.FminS or Op.FmaxS
        or Op.FsgnjD or Op.FsgnjnD or Op.FsgnjxD or Op.FminD or Op.FmaxD;

    private static string FenceSet(int bits)
    {
        if (bits == 0) return "0";
        var s = "";
        if ((bits & 8) != 0) s += "i";
        if ((bits & 4) != 0) s += "o";
        if ((bits & 2) != 0) s += "r";
        if ((bits & 1) != 0) s += "w";
        return s;
    }
}
