using System.Globalization;
using Trapeze.Core.Isa;

namespace Trapeze.Core.Tests.Isa;

/// <summary>How our decode of one encoding relates to objdump's.</summary>
public enum Agreement
{
    /// <summary>Same instruction and operands, or both call it illegal.</summary>
    Same,
    /// <summary>A known, documented difference where our decoder follows the spec and binutils 2.40 does not.</summary>
    Tolerated,
    Different,
}

public readonly record struct Verdict(Agreement Agreement, string Reason, DecodedInsn Ours);

/// <summary>
/// Compares <see cref="Decoder"/> with GNU objdump (<c>-M no-aliases,numeric</c>) one encoding at a time,
/// structurally: the mnemonic, then each operand parsed by the kind our decode says it should be (register
/// number, immediate value, memory operand, branch target, CSR number, rounding mode, fence set).
/// </summary>
public sealed class ObjdumpOracle
{
    private static readonly Lazy<ObjdumpOracle> Shared = new(() => new ObjdumpOracle());
    public static ObjdumpOracle Instance => Shared.Value;

    private static readonly string[] RoundingNames = ["rne", "rtz", "rdn", "rup", "rmm", "", "", "dyn"];

    /// <summary>Names other extensions give to HINT encodings of the base ISA (Unpriv. spec 2.9, Table 2.3):
    /// we decode them as the base operation writing the sink register (or as a plain fence).</summary>
    private static readonly Dictionary<string, Op> BaseIsaHints = new(StringComparer.Ordinal)
    {
        ["pause"] = Op.Fence,                                                       // Zihintpause: fence w,0
        ["prefetch.i"] = Op.Ori, ["prefetch.r"] = Op.Ori, ["prefetch.w"] = Op.Ori, // Zicbop: ori x0, rs1, imm
        ["ntl.p1"] = Op.Add, ["ntl.pall"] = Op.Add, ["ntl.s1"] = Op.Add, ["ntl.all"] = Op.Add, // Zihintntl: add x0, x0, xN
        ["c.ntl.p1"] = Op.Add, ["c.ntl.pall"] = Op.Add, ["c.ntl.s1"] = Op.Add, ["c.ntl.all"] = Op.Add,
    };

    private readonly Dictionary<string, HashSet<int>> _csrByName = new(StringComparer.Ordinal);
    private readonly HashSet<string> _ours = new(StringComparer.Ordinal);

    private ObjdumpOracle()
    {
        // objdump's CSR names, learnt from objdump itself: csrrs x0, <n>, x0 for every CSR number, under each
        // privileged spec version it knows (an ELF's attributes select one; a flat image gets the newest).
        var image = new byte[4096 * 4];
        for (int n = 0; n < 4096; n++)
            BitConverter.TryWriteBytes(image.AsSpan(n * 4), (uint)(n << 20) | 0x2073);
        foreach (string spec in new[] { "", ",priv-spec=1.11", ",priv-spec=1.10", ",priv-spec=1.9.1" })
        {
            foreach (var line in GnuBinutils.DisassembleFlat(image, "no-aliases,numeric" + spec))
            {
                string name = line.Operands.Split(',')[1];
                if (!_csrByName.TryGetValue(name, out var numbers)) _csrByName[name] = numbers = [];
                numbers.Add((int)(line.Raw >> 20));
            }
        }

        foreach (var e in DecodeTable.Entries)
        {
            _ours.Add(e.Mnemonic);
            if (e.Format is InsnFormat.Amo or InsnFormat.Lr)
                foreach (string s in new[] { ".aq", ".rl", ".aqrl" }) _ours.Add(e.Mnemonic + s);
        }
        // A shift by 0 is a HINT in RV64C; binutils names it after the RV128 instruction with that encoding.
        // FENCE.TSO is our fence with fm = 1000.
        _ours.UnionWith(["c.slli64", "c.srli64", "c.srai64", "fence.tso"]);
    }

    /// <summary>True when objdump calls CSR <paramref name="number"/> <paramref name="name"/> (under one
    /// privileged spec version or another).</summary>
    public bool IsCsrName(string name, int number) => _csrByName.TryGetValue(name, out var n) && n.Contains(number);

    /// <summary>Every mnemonic our decode table can produce, in objdump's spelling.</summary>
    public IReadOnlySet<string> OurMnemonics => _ours;

    public Verdict Check(ObjdumpLine line)
    {
        if (line.Length is not (2 or 4) || Decoder.LengthOf((ushort)line.Raw) == 0)
        {
            // 48-bit and longer encodings (objdump ".6byte", ".8byte", or ".2byte" for the reserved lengths)
            // are not supported: illegal.
            var low = Decoder.Decode((uint)(line.Raw & 0xffff));
            return Decoder.LengthOf((ushort)line.Raw) == 0 && low.Op == Op.Illegal && line.IsUnknown
                ? new(Agreement.Same, "", low)
                : new(Agreement.Different, $"objdump: {line.Mnemonic} {line.Operands}, ours: length {Decoder.LengthOf((ushort)line.Raw)}", low);
        }

        uint raw = (uint)line.Raw;
        var d = Decoder.Decode(raw);
        if (Decoder.LengthOf((ushort)raw) != line.Length || d.Length != line.Length)
            return new(Agreement.Different, $"length {d.Length} vs objdump {line.Length}", d);

        if (BaseIsaHints.TryGetValue(line.Mnemonic, out Op hintOp))
        {
            return d.Op == hintOp && (hintOp == Op.Fence || d.Rd == DecodedInsn.SinkRegister)
                ? new(Agreement.Same, "", d)
                : new(Agreement.Different, $"objdump: {line.Mnemonic} {line.Operands} (a base-ISA HINT); ours: {Show(d)}", d);
        }

        string? illegalBecause = line.IsUnknown ? "objdump does not know it"
            : line.Mnemonic == "c.unimp" ? "the defined illegal instruction"
            : !_ours.Contains(line.Mnemonic) ? "an extension we do not implement"
            : line.Mnemonic.StartsWith('f') && !line.Mnemonic.StartsWith("fence") && line.Operands.EndsWith(",unknown")
                ? "reserved rounding mode"
            // Unpriv. spec 16.5 (C.ADDI16SP) "reserved if nzimm = 0"; binutils 2.40 accepts it.
            : line.Mnemonic == "c.addi16sp" && line.Operands == "x2,0" ? "c.addi16sp with nzimm = 0 is reserved"
            : null;

        if (illegalBecause is not null)
        {
            if (d.Op == Op.Illegal) return new(Agreement.Same, "", d);
            if (line.IsUnknown && Tolerated(raw, d) is { } why) return new(Agreement.Tolerated, why, d);
            return new(Agreement.Different, $"objdump: {line.Mnemonic} {line.Operands} ({illegalBecause}); ours: {Show(d)}", d);
        }
        if (d.Op == Op.Illegal)
            return new(Agreement.Different, $"objdump: {line.Mnemonic} {line.Operands}; ours: illegal", d);

        var (mnemonic, expected) = Expect(d, line.Address);
        if (mnemonic != line.Mnemonic)
            return new(Agreement.Different, $"mnemonic: objdump {line.Mnemonic} {line.Operands}; ours {mnemonic} ({Show(d)})", d);
        string[] actual = line.Operands.Length == 0 ? [] : line.Operands.Split(',');
        if (actual.Length != expected.Count)
            return new(Agreement.Different, $"operand count: objdump {line.Mnemonic} {line.Operands}; ours {Show(d)}", d);
        for (int i = 0; i < actual.Length; i++)
        {
            if (!Matches(expected[i], actual[i]))
                return new(Agreement.Different,
                    $"operand {i}: objdump {line.Mnemonic} {line.Operands}; ours expects {expected[i]} ({Show(d)})", d);
        }
        return new(Agreement.Same, "", d);
    }

    /// <summary>Encodings binutils 2.40 rejects but the spec defines; ours must decode them as shown.</summary>
    private static string? Tolerated(uint raw, in DecodedInsn d)
    {
        // Unpriv. spec 2.7: FENCE's rd, rs1 and unused fm values are reserved for finer-grained fences and
        // "implementations shall ignore these fields"; Zifencei (chapter 3) says the same for FENCE.I's imm, rs1
        // and rd. binutils only accepts them zero (fence.tso aside).
        if ((raw & 0x707f) == 0x000f && d.Op == Op.Fence) return "fence with reserved fields set";
        if ((raw & 0x707f) == 0x100f && d.Op == Op.FenceI) return "fence.i with reserved fields set";
        // The exact conversions still carry an rm field (Unpriv. spec 11.7/12.5); binutils 2.40 only
        // disassembles them with rm = 000 (newer binutils print the rounding mode).
        if (d.Op is Op.FcvtDS or Op.FcvtDW or Op.FcvtDWu) return "exact fcvt with rm != 0";
        return null;
    }

    private static string Show(in DecodedInsn d) =>
        d.Op == Op.Illegal ? "illegal" : $"{Disassembler.Format(d, 0)} [{d.Op}]";

    private enum Kind { X, F, Imm, Mem, Paren, Target, Csr, Rm, Fence }

    private readonly record struct Operand(Kind Kind, long Value, int Reg = 0)
    {
        public override string ToString() => Kind switch
        {
            Kind.X => $"x{Value}",
            Kind.F => $"f{Value}",
            Kind.Mem => $"{Value}(x{Reg})",
            Kind.Paren => $"(x{Value})",
            Kind.Target => $"target 0x{(ulong)Value:x}",
            Kind.Csr => $"csr 0x{Value:x}",
            Kind.Rm => $"rm {RoundingNames[Value]}",
            Kind.Fence => $"fence set {Value}",
            _ => Value.ToString(CultureInfo.InvariantCulture),
        };
    }

    private static Operand X(int r) => new(Kind.X, r == DecodedInsn.SinkRegister ? 0 : r);
    private static Operand F(int r) => new(Kind.F, r);
    private static Operand Imm(long v) => new(Kind.Imm, v);
    private static Operand Mem(long off, int r) => new(Kind.Mem, off, r);

    /// <summary>The mnemonic and operands objdump should print for our decode, in its operand order.</summary>
    private static (string, List<Operand>) Expect(in DecodedInsn d, ulong pc)
    {
        var e = DecodeTable.Entries[d.Entry];
        string m = e.Mnemonic;
        var o = new List<Operand>();
        ulong target = pc + (ulong)d.Imm;
        long upper = (long)(((ulong)d.Imm >> 12) & 0xfffff);
        if (e.Compressed)
        {
            bool fp = d.Op is Op.Fld or Op.Fsd;
            switch (e.CForm)
            {
                case CForm.Addi4spn: o.AddRange([X(d.Rd), X(d.Rs1), Imm(d.Imm)]); break;
                case CForm.Ld4 or CForm.Ld8 or CForm.LwSp or CForm.LdSp:
                    o.AddRange([fp ? F(d.Rd) : X(d.Rd), Mem(d.Imm, d.Rs1)]); break;
                case CForm.St4 or CForm.St8 or CForm.SwSp or CForm.SdSp:
                    o.AddRange([fp ? F(d.Rs2) : X(d.Rs2), Mem(d.Imm, d.Rs1)]); break;
                case CForm.Addi or CForm.Addiw or CForm.Li or CForm.Andi: o.AddRange([X(d.Rd), Imm(d.Imm)]); break;
                case CForm.Addi16sp: o.AddRange([X(d.Rd), Imm(d.Imm)]); break;
                case CForm.Lui: o.AddRange([X(d.Rd), Imm(upper)]); break;
                case CForm.ShiftRight or CForm.Slli:
                    if (d.Imm == 0) { m += "64"; o.Add(X(d.Rd)); }
                    else o.AddRange([X(d.Rd), Imm(d.Imm)]);
                    break;
                case CForm.Arith or CForm.Mv or CForm.AddRR: o.AddRange([X(d.Rd), X(d.Rs2)]); break;
                case CForm.J: o.Add(new(Kind.Target, (long)target)); break;
                case CForm.Beqz: o.AddRange([X(d.Rs1), new(Kind.Target, (long)target)]); break;
                case CForm.Jr or CForm.Jalr: o.Add(X(d.Rs1)); break;
                case CForm.None: break;
                default: throw new InvalidOperationException($"no objdump syntax for {e.CForm}");
            }
            return (m, o);
        }

        bool exact = d.Op is Op.FcvtDS or Op.FcvtDW or Op.FcvtDWu;
        bool showRm = e.HasRoundingMode && (exact ? d.Rm != 0 : d.Rm != 7);
        switch (e.Format)
        {
            case InsnFormat.None: break;
            case InsnFormat.R: o.AddRange([X(d.Rd), X(d.Rs1), X(d.Rs2)]); break;
            case InsnFormat.I when d.Op == Op.Jalr: o.AddRange([X(d.Rd), Mem(d.Imm, d.Rs1)]); break;
            case InsnFormat.I or InsnFormat.ShiftI: o.AddRange([X(d.Rd), X(d.Rs1), Imm(d.Imm)]); break;
            case InsnFormat.Load: o.AddRange([X(d.Rd), Mem(d.Imm, d.Rs1)]); break;
            case InsnFormat.Store: o.AddRange([X(d.Rs2), Mem(d.Imm, d.Rs1)]); break;
            case InsnFormat.Branch: o.AddRange([X(d.Rs1), X(d.Rs2), new(Kind.Target, (long)target)]); break;
            case InsnFormat.U: o.AddRange([X(d.Rd), Imm(upper)]); break;
            case InsnFormat.J: o.AddRange([X(d.Rd), new(Kind.Target, (long)target)]); break;
            case InsnFormat.Csr: o.AddRange([X(d.Rd), new(Kind.Csr, d.Imm), X(d.Rs1)]); break;
            case InsnFormat.CsrI: o.AddRange([X(d.Rd), new(Kind.Csr, d.Imm), Imm(d.Rs1)]); break;
            case InsnFormat.Amo: m += AqRl(d.Rm); o.AddRange([X(d.Rd), X(d.Rs2), new(Kind.Paren, d.Rs1)]); break;
            case InsnFormat.Lr: m += AqRl(d.Rm); o.AddRange([X(d.Rd), new(Kind.Paren, d.Rs1)]); break;
            case InsnFormat.Fence when d.Imm == 0x833: m = "fence.tso"; break;
            case InsnFormat.Fence: o.AddRange([new(Kind.Fence, (d.Imm >> 4) & 15), new(Kind.Fence, d.Imm & 15)]); break;
            case InsnFormat.SfenceVma: o.AddRange([X(d.Rs1), X(d.Rs2)]); break;
            case InsnFormat.FLoad: o.AddRange([F(d.Rd), Mem(d.Imm, d.Rs1)]); break;
            case InsnFormat.FStore: o.AddRange([F(d.Rs2), Mem(d.Imm, d.Rs1)]); break;
            case InsnFormat.FR: o.AddRange([F(d.Rd), F(d.Rs1), F(d.Rs2)]); break;
            case InsnFormat.FR1: o.AddRange([F(d.Rd), F(d.Rs1)]); break;
            case InsnFormat.FR4: o.AddRange([F(d.Rd), F(d.Rs1), F(d.Rs2), F(d.Rs3)]); break;
            case InsnFormat.FCmp: o.AddRange([X(d.Rd), F(d.Rs1), F(d.Rs2)]); break;
            case InsnFormat.FToX: o.AddRange([X(d.Rd), F(d.Rs1)]); break;
            case InsnFormat.XToF: o.AddRange([F(d.Rd), X(d.Rs1)]); break;
            default: throw new InvalidOperationException($"no objdump syntax for {e.Format}");
        }
        if (showRm) o.Add(new(Kind.Rm, d.Rm));
        return (m, o);
    }

    private static string AqRl(int bits) => bits switch { 1 => ".rl", 2 => ".aq", 3 => ".aqrl", _ => "" };

    private bool Matches(Operand want, string token)
    {
        switch (want.Kind)
        {
            case Kind.X: return token == $"x{want.Value}";
            case Kind.F: return token == $"f{want.Value}";
            case Kind.Imm: return TryNumber(token, out long v) && v == want.Value;
            case Kind.Paren: return token == $"(x{want.Value})";
            case Kind.Mem:
            {
                int open = token.IndexOf('(');
                return open > 0 && TryNumber(token[..open], out long off) && off == want.Value
                       && token[open..] == $"(x{want.Reg})";
            }
            case Kind.Target:
            {
                // "0x36" for a flat image, "fffffffffffff010 <.text+0xfffffffffffff010>" for an ELF.
                string head = token.Split(' ')[0];
                if (head.StartsWith("0x", StringComparison.Ordinal)) head = head[2..];
                return ulong.TryParse(head, NumberStyles.HexNumber, null, out ulong t) && t == (ulong)want.Value;
            }
            case Kind.Csr:
                return _csrByName.TryGetValue(token, out var numbers) ? numbers.Contains((int)want.Value)
                    : TryNumber(token, out long n) && n == want.Value;
            case Kind.Rm: return token == RoundingNames[want.Value];
            case Kind.Fence: return token == FenceSet((int)want.Value);
            default: return false;
        }
    }

    /// <summary>Decimal or 0x-prefixed hex, optionally negative, as objdump prints immediates.</summary>
    public static bool TryNumber(string s, out long value)
    {
        bool neg = s.StartsWith('-');
        string body = neg ? s[1..] : s;
        bool ok = body.StartsWith("0x", StringComparison.Ordinal)
            ? ulong.TryParse(body[2..], NumberStyles.HexNumber, null, out ulong u)
            : ulong.TryParse(body, NumberStyles.None, null, out u);
        value = neg ? -(long)u : (long)u;
        return ok && body.Length > 0;
    }

    private static string FenceSet(int bits)
    {
        if (bits == 0) return "unknown";
        var s = new System.Text.StringBuilder();
        if ((bits & 8) != 0) s.Append('i');
        if ((bits & 4) != 0) s.Append('o');
        if ((bits & 2) != 0) s.Append('r');
        if ((bits & 1) != 0) s.Append('w');
        return s.ToString();
    }
}
