using Trapeze.Core.Cpu;
using Trapeze.Core.Isa;

namespace Trapeze.Jit.Fuzz;

/// <summary>
/// Generates random programs over all of RV64GC from <see cref="DecodeTable.Entries"/>: every entry's
/// fixed bits with random operand fields, biased towards a few "hot" registers (so results feed later
/// instructions), edge immediates and shift amounts, all rounding modes (including the dynamic and the
/// reserved ones); memory accesses aimed at the scratch pages (aligned, misaligned, straddling pages,
/// some through whatever a register holds, so faulting); forward branches and jumps, counted loops
/// (some long enough to use up a region's back-edge budget), LR/SC pairs, constant loads of edge values,
/// CSR accesses to the FP status and the counters, and traps (ECALL, EBREAK, illegal encodings).
/// </summary>
public sealed class ProgramGenerator
{
    private static readonly int[] AllowedEntries = FindAllowed();
    private static readonly ushort[] Csrs = [0x001, 0x002, 0x003, 0xc00, 0xc02, 0xb00, 0xb02, 0x300, 0x301, 0xf14, 0x100];

    private readonly FuzzRandom _r;
    private readonly bool[] _reserved = new bool[32];
    private readonly int[] _hotX;
    private readonly int[] _hotF;
    private int _nextLabel;

    private bool _selfModifying;

    private ProgramGenerator(FuzzRandom r)
    {
        _r = r;
        _hotX = Enumerable.Range(0, 8).Select(_ => r.Next(1, 32)).ToArray();
        _hotF = Enumerable.Range(0, 6).Select(_ => r.Next(32)).ToArray();
    }

    /// <summary>A program of about <paramref name="items"/> items at a random place in the code pages.</summary>
    public static FuzzProgram Generate(FuzzRandom r, int items, bool selfModifying = false)
    {
        var g = new ProgramGenerator(r) { _selfModifying = selfModifying };
        // Start anywhere in the first code page (2-byte aligned), so programs cross pages at any point.
        ulong start = FuzzLayout.CodeBase + (ulong)(r.Next(0, 2048) * 2);
        if (r.Chance(15)) start = FuzzLayout.CodeBase + 0x1000 - (ulong)(r.Next(1, 64) * 2);
        var p = new FuzzProgram { Base = start, Items = g.List(items, depth: 0) };
        // Keep well inside the code pages.
        while (p.Assemble().Code.Length > (int)(FuzzLayout.CodeBase + FuzzLayout.CodeSize - start) - 64 && p.Items.Count > 1)
            p.Items.RemoveAt(p.Items.Count - 1);
        return p;
    }

    /// <summary>The decode-table entries random instructions are drawn from (all but control transfers and
    /// sensitive instructions, which the generator places itself).</summary>
    public static IReadOnlyList<int> InstructionEntries => AllowedEntries;

    /// <summary>A straight-line program of <paramref name="count"/> random instances of one decode-table
    /// entry (memory accesses with their address set-up), for per-instruction tests.</summary>
    public static FuzzProgram ForEntry(FuzzRandom r, int entry, int count)
    {
        var g = new ProgramGenerator(r);
        var items = new List<FuzzItem>();
        for (int i = 0; i < count; i++) items.Add(g.RandomInstruction(entry));
        return new FuzzProgram { Base = FuzzLayout.CodeBase + 0x100, Items = items };
    }

    private static int[] FindAllowed()
    {
        var list = new List<int>();
        for (int i = 0; i < DecodeTable.Entries.Length; i++)
        {
            var e = DecodeTable.Entries[i];
            if (IsControl(e.Op) || BlockCache.IsSystem(e.Op)) continue;
            list.Add(i);
        }
        return [.. list];
    }

    private static bool IsControl(Op op) => op is Op.Jal or Op.Jalr or Op.Beq or Op.Bne or Op.Blt or Op.Bge or Op.Bltu or Op.Bgeu;

    // ------------------------------------------------------------------ registers and values

    private int PickX()
    {
        int k = _r.Next(100);
        if (k < 70) return _r.Pick(_hotX);
        if (k < 95) return _r.Next(1, 32);
        return 0;
    }

    private int PickWritableX()
    {
        for (int tries = 0; tries < 20; tries++)
        {
            int x = PickX();
            if (x != 0 && !_reserved[x]) return x;
        }
        return 0;
    }

    private int PickF() => _r.Chance(70) ? _r.Pick(_hotF) : _r.Next(32);

    private long Imm12() => _r.Next(8) switch
    {
        0 => 0, 1 => -1, 2 => 1, 3 => 2047, 4 => -2048,
        _ => (long)_r.NextU32() << 52 >> 52,
    };

    private int Shamt(bool word)
    {
        int[] edges = word ? [0, 1, 31, 16] : [0, 1, 31, 32, 63];
        return _r.Chance(50) ? _r.Pick(edges) : _r.Next(word ? 32 : 64);
    }

    // ------------------------------------------------------------------ structure

    private List<FuzzItem> List(int budget, int depth)
    {
        var items = new List<FuzzItem>();
        var jumps = new List<int>();
        while (budget > 0)
        {
            int k = _r.Next(100);
            FuzzItem item;
            int cost = 1;
            if (k < 56) item = RandomInstruction();
            else if (k < 64) { item = Branch(); jumps.Add(items.Count); }
            else if (k < 67) { item = DirectJump(); jumps.Add(items.Count); }
            else if (k < 69) { item = IndirectJump(); if (item is JumpItem) jumps.Add(items.Count); }
            else if (k < 75 && depth < 2)
            {
                var loop = Loop(depth, Math.Min(budget, 14));
                item = loop;
                cost = 3 + loop.Body.Count;
            }
            else if (k < 80) item = LoadEdge();
            else if (k < 83) item = LoadFloat();
            else if (k < 87) item = Csr();
            else if (k < 90) item = LrSc();
            else if (k < 92) item = Trap();
            else if (k < 95 && _selfModifying) item = Patch();
            else item = RandomInstruction();
            items.Add(item);
            budget -= cost;
        }
        // Place each jump's label 1..6 items ahead (or at the end of the list).
        var places = new List<(int At, int Id)>();
        foreach (int j in jumps)
        {
            int id = _nextLabel++;
            ((JumpItem)items[j]).Label = id;
            places.Add((Math.Min(items.Count, j + 1 + _r.Next(6)), id));
        }
        foreach (var (at, id) in places.OrderByDescending(p => p.At)) items.Insert(at, new LabelItem(id));
        return items;
    }

    private FuzzItem Branch()
    {
        var j = new JumpItem { Rs1 = PickX(), Rs2 = PickX() };
        if (_r.Chance(25))
        {
            j.Kind = JumpKind.CBranch;
            j.Rs1 = _r.Next(8, 16);
            j.Funct3 = (uint)_r.Next(2);
        }
        else
        {
            j.Kind = JumpKind.Branch;
            j.Funct3 = _r.Pick(new uint[] { 0, 1, 4, 5, 6, 7 });
        }
        return j;
    }

    private FuzzItem DirectJump()
    {
        int rd = _r.Chance(50) ? 0 : PickWritableX();
        return _r.Chance(40) ? new JumpItem { Kind = JumpKind.CJ } : new JumpItem { Kind = JumpKind.Jal, Rd = rd };
    }

    private FuzzItem IndirectJump()
    {
        int temp = PickWritableX();
        if (temp == 0) return RandomInstruction();
        int rd = _r.Chance(40) ? 0 : PickWritableX();
        var kind = _r.Next(3) switch { 0 => JumpKind.Jalr, 1 => JumpKind.CJr, _ => JumpKind.CJalr };
        if (kind == JumpKind.CJalr && _reserved[1]) kind = JumpKind.CJr; // c.jalr links to ra
        return new JumpItem { Kind = kind, Temp = temp, Rd = rd };
    }

    private LoopItem Loop(int depth, int budget)
    {
        var loop = new LoopItem();
        loop.BackEdge = _r.Next(3);
        for (int tries = 0; tries < 20; tries++)
        {
            int c = loop.BackEdge == 2 ? _r.Next(8, 16) : _r.Next(1, 32);
            if (!_reserved[c]) { loop.Counter = c; break; }
        }
        if (loop.Counter == 0) { loop.Counter = 1; loop.BackEdge = 0; }
        int k = _r.Next(100);
        bool longLoop = depth == 0 && k >= 90;
        loop.Trips = longLoop ? _r.Next(1000, 1100) : k < 70 ? _r.Next(1, 5) : _r.Next(5, 40);
        bool wasReserved = _reserved[loop.Counter];
        _reserved[loop.Counter] = true;
        loop.Body = List(Math.Max(1, _r.Next(1, budget)), longLoop ? 2 : depth + 1);
        _reserved[loop.Counter] = wasReserved;
        return loop;
    }

    private FuzzItem LoadEdge()
    {
        int rd = PickWritableX();
        var raw = new List<uint>();
        if (rd != 0) Encode.LoadImmediate(raw, rd, (long)EdgeValues.Integer(_r));
        return new PlainItem(raw);
    }

    private FuzzItem LoadFloat()
    {
        int tmp = PickWritableX();
        var raw = new List<uint>();
        if (tmp == 0) return new PlainItem(raw);
        ulong v = EdgeValues.Float(_r);
        Encode.LoadImmediate(raw, tmp, (long)v);
        raw.Add(_r.Chance(80) ? Encode.FmvDX(PickF(), tmp) : Encode.FmvWX(PickF(), tmp));
        return new PlainItem(raw);
    }

    private FuzzItem Csr()
    {
        ushort csr = _r.Pick(Csrs);
        int rd = _r.Chance(80) ? PickWritableX() : 0;
        uint funct3;
        int src;
        if (csr <= 3 || (csr is 0xb00 or 0xb02 && _r.Chance(30)))
        {
            funct3 = (uint)_r.Pick(new[] { 1, 2, 3, 5, 6, 7 });
            src = funct3 >= 5 ? _r.Next(32) : PickX();
        }
        else
        {
            funct3 = 2;
            src = 0;
        }
        return new PlainItem([Encode.I(csr, src, funct3, rd, 0x73)]);
    }

    /// <summary>Patches its own last instruction with another ALU instruction, then FENCE.I.</summary>
    private FuzzItem Patch()
    {
        int a = PickWritableX(), v = PickWritableX();
        if (a == 0 || v == 0 || a == v) return RandomInstruction();
        uint? original = AluInstruction(), patch = AluInstruction();
        if (original == null || patch == null) return RandomInstruction();
        return new PatchItem(a, v, original.Value, patch.Value);
    }

    private uint? AluInstruction()
    {
        for (int tries = 0; tries < 50; tries++)
        {
            if (RandomInstruction() is not PlainItem { Raw: [uint raw] } || Decoder.LengthOf((ushort)raw) != 4) continue;
            var d = Decoder.Decode(raw);
            if (d.Entry < DecodeTable.Entries.Length && DecodeTable.Entries[d.Entry].Format is InsnFormat.R or InsnFormat.I
                    or InsnFormat.ShiftI or InsnFormat.U && d.Op is < Op.Flw)
                return raw;
        }
        return null;
    }

    private FuzzItem Trap() => new PlainItem([_r.Next(7) switch
    {
        0 => 0x00000073u,                 // ecall
        1 => 0x00100073u,                 // ebreak
        2 => 0x9002u,                     // c.ebreak
        3 => 0x0000u,                     // the all-zero illegal instruction
        4 => 0x0000000bu | (_r.NextU32() & 0xffff_ff80u), // custom-0: illegal here
        5 => 0x0000100fu,                 // fence.i
        _ => 0x12000073u,                 // sfence.vma (illegal in U-mode)
    }]);

    private FuzzItem LrSc()
    {
        int b = PickWritableX();
        if (b == 0) return RandomInstruction();
        bool dw = _r.Chance(50);
        int size = dw ? 8 : 4;
        ulong addr = Target(size, atomic: true);
        uint aqrl = (uint)_r.Next(4);
        int rd = PickWritableX();
        uint lr = Encode.R(0b00010 << 2 | aqrl, 0, b, dw ? 3u : 2u, rd, 0x2f);
        var following = new List<uint> { lr };
        for (int i = _r.Next(3); i > 0; i--)
            if (RandomInstruction() is PlainItem p && p.Raw.Count == 1 && !IsMemory(p.Raw[0])) following.Add(p.Raw[0]);
        int rd2 = PickWritableX();
        following.Add(Encode.R(0b00011 << 2 | (uint)_r.Next(4), PickX(), _r.Chance(85) ? b : PickX(), dw ? 3u : 2u, rd2, 0x2f));
        return new AddressItem(b, addr, following);
    }

    private static bool IsMemory(uint raw)
    {
        var d = Decoder.Decode(raw);
        if (d.Entry >= DecodeTable.Entries.Length) return false;
        return DecodeTable.Entries[d.Entry].Format is InsnFormat.Load or InsnFormat.Store or InsnFormat.FLoad
            or InsnFormat.FStore or InsnFormat.Amo or InsnFormat.Lr;
    }

    /// <summary>An address in the scratch pages: usually aligned to the access, sometimes misaligned, sometimes
    /// straddling a page boundary (into the next scratch page, or into the locked handler page).</summary>
    private ulong Target(int size, bool atomic)
    {
        int k = _r.Next(100);
        ulong a = FuzzLayout.ScratchBase + (ulong)_r.Next((int)FuzzLayout.ScratchSize);
        if (k < (atomic ? 92 : 75)) return a & ~(ulong)(size - 1);
        if (k < 90) return a;
        ulong boundary = _r.Chance(60) ? FuzzLayout.ScratchBase + 0x1000 : FuzzLayout.ScratchBase + 0x2000;
        return boundary - (ulong)_r.Next(1, 9);
    }

    private FuzzItem RandomInstruction(int entry = -1)
    {
        for (int tries = 0; tries < 50; tries++)
        {
            var e = DecodeTable.Entries[entry >= 0 ? entry : _r.Pick(AllowedEntries)];
            uint raw = e.Compressed ? Compressed(e) : Full(e);
            var d = Decoder.Decode(raw);
            if (d.Op == Op.Illegal) { if (_r.Chance(5)) return new PlainItem([raw]); continue; }
            if (IsControl(d.Op) || BlockCache.IsSystem(d.Op)) continue;
            var f = DecodeTable.Entries[d.Entry].Format;
            if (f.WritesX() && d.Rd != DecodedInsn.SinkRegister && _reserved[d.Rd]) continue;
            bool memory = f is InsnFormat.Load or InsnFormat.Store or InsnFormat.FLoad or InsnFormat.FStore
                or InsnFormat.Amo or InsnFormat.Lr;
            if (memory && d.Rs1 != 0 && !_reserved[d.Rs1] && (_selfModifying || _r.Chance(85)))
            {
                int size = AccessSize(d.Op);
                bool atomic = f is InsnFormat.Amo or InsnFormat.Lr;
                ulong target = Target(size, atomic);
                return new AddressItem(d.Rs1, target - (ulong)d.Imm, [raw]);
            }
            return new PlainItem([raw]);
        }
        return new PlainItem([Encode.Addi(0, 0, 0)]);
    }

    private static int AccessSize(Op op) => op switch
    {
        Op.Lb or Op.Lbu or Op.Sb => 1,
        Op.Lh or Op.Lhu or Op.Sh => 2,
        Op.Lw or Op.Lwu or Op.Sw or Op.Flw or Op.Fsw or Op.LrW or Op.ScW => 4,
        >= Op.AmoswapW and <= Op.AmomaxuW => 4,
        _ => 8,
    };

    private uint Full(DecodeEntry e)
    {
        uint raw = _r.NextU32();
        var f = e.Format;
        bool fpDest = f is InsnFormat.FR or InsnFormat.FR1 or InsnFormat.FR4 or InsnFormat.FLoad or InsnFormat.XToF;
        bool fpSrc = f is InsnFormat.FR or InsnFormat.FR1 or InsnFormat.FR4 or InsnFormat.FCmp or InsnFormat.FToX or InsnFormat.FStore;
        bool fpSrc2 = f is InsnFormat.FR or InsnFormat.FR4 or InsnFormat.FCmp or InsnFormat.FStore;
        int rd = fpDest ? PickF() : PickWritableX();
        int rs1 = fpSrc && f != InsnFormat.FStore ? PickF() : PickX();
        int rs2 = fpSrc2 ? PickF() : PickX();
        raw = Set(raw, 7, 5, (uint)rd);
        raw = Set(raw, 15, 5, (uint)rs1);
        raw = Set(raw, 20, 5, (uint)rs2);
        if (f == InsnFormat.FR4) raw = Set(raw, 27, 5, (uint)PickF());
        if (e.HasRoundingMode)
        {
            int k = _r.Next(100);
            uint rm = k < 55 ? (uint)_r.Next(5) : k < 97 ? 7u : (uint)_r.Next(5, 7);
            raw = Set(raw, 12, 3, rm);
        }
        if (f is InsnFormat.I or InsnFormat.Load or InsnFormat.FLoad) raw = Set(raw, 20, 12, (uint)Imm12());
        if (f is InsnFormat.Store or InsnFormat.FStore)
        {
            uint imm = (uint)Imm12();
            raw = Set(raw, 7, 5, imm & 31);
            raw = Set(raw, 25, 7, imm >> 5);
        }
        if (f == InsnFormat.ShiftI) raw = Set(raw, 20, 6, (uint)Shamt(word: e.Op is Op.Slliw or Op.Srliw or Op.Sraiw));
        return (raw & ~e.Mask) | e.Match;
    }

    private uint Compressed(DecodeEntry e)
    {
        uint raw = _r.NextU32() & 0xffff;
        raw = (raw & ~e.Mask) | e.Match;
        // Full-width rd/rs1 (bits 11:7) and rs2 (6:2) fields: prefer the hot registers.
        if (e.CForm is CForm.Addi or CForm.Addiw or CForm.Li or CForm.Lui or CForm.Slli or CForm.LwSp or CForm.LdSp
            or CForm.Mv or CForm.AddRR)
            raw = Set(raw, 7, 5, (uint)PickWritableX());
        if (e.CForm is CForm.Mv or CForm.AddRR) raw = Set(raw, 2, 5, (uint)Math.Max(1, PickX()));
        return (raw & ~e.Mask) | e.Match;
    }

    private static uint Set(uint raw, int at, int width, uint value)
    {
        uint mask = ((1u << width) - 1) << at;
        return (raw & ~mask) | ((value << at) & mask);
    }
}
