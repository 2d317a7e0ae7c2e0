using System.Text;
using Decoder = Trapeze.Core.Isa.Decoder;
using Trapeze.Core.Isa;

namespace Trapeze.Jit.Fuzz;

/// <summary>A piece of a fuzz program. Control flow is structured: branches and jumps go forward to a
/// label in the same list, loops are counted, so every program ends; items can be removed one by one
/// when a divergence is shrunk.</summary>
public abstract class FuzzItem
{
    public abstract FuzzItem Clone();
}

/// <summary>Instructions with no control flow (generated from the decode table, or set-up sequences).</summary>
public sealed class PlainItem(List<uint> raw) : FuzzItem
{
    public List<uint> Raw { get; } = raw;
    public override FuzzItem Clone() => new PlainItem([.. Raw]);
}

/// <summary>A position forward branches and jumps go to.</summary>
public sealed class LabelItem(int id) : FuzzItem
{
    public int Id { get; } = id;
    public override FuzzItem Clone() => new LabelItem(Id);
}

public enum JumpKind { Branch, CBranch, Jal, CJ, Jalr, CJr, CJalr }

/// <summary>A forward control transfer to <see cref="Label"/>: conditional branch (B-type or c.beqz/c.bnez),
/// jal/c.j, or an indirect jump through <see cref="Temp"/> set by auipc (+addi) just before.</summary>
public sealed class JumpItem : FuzzItem
{
    public JumpKind Kind;
    public uint Funct3;          // B-type condition; for CBranch 1 = bnez
    public int Rs1, Rs2, Rd, Temp;
    public int Label;
    public override FuzzItem Clone() => (JumpItem)MemberwiseClone();
}

/// <summary>A counted loop: counter = trips; body; counter -= 1; branch back while counter != 0 (or > 0).
/// The body never writes the counter.</summary>
public sealed class LoopItem : FuzzItem
{
    public int Counter;
    public long Trips;
    public int BackEdge;          // 0: bne x, x0; 1: blt x0, x; 2: c.bnez (counter in x8..x15)
    public List<FuzzItem> Body = [];
    public override FuzzItem Clone() => new LoopItem
    {
        Counter = Counter, Trips = Trips, BackEdge = BackEdge, Body = Body.Select(i => i.Clone()).ToList(),
    };
}

/// <summary>Sets a register to an absolute address with auipc + addi (position-relative, as real code does).</summary>
public sealed class AddressItem(int rd, ulong address, List<uint> following) : FuzzItem
{
    public int Rd { get; } = rd;
    public ulong Address { get; } = address;
    /// <summary>The instructions that use the address (a memory access, or an LR ... SC sequence).</summary>
    public List<uint> Following { get; } = following;
    public override FuzzItem Clone() => new AddressItem(Rd, Address, [.. Following]);
}

/// <summary>Self-modifying code: stores <see cref="Patch"/> over the instruction slot that ends the item
/// (which holds <see cref="Original"/> when the program is loaded), runs FENCE.I, then executes the slot.</summary>
public sealed class PatchItem(int addressReg, int valueReg, uint original, uint patch) : FuzzItem
{
    public int AddressReg { get; } = addressReg;
    public int ValueReg { get; } = valueReg;
    public uint Original { get; } = original;
    public uint Patch { get; } = patch;
    public override FuzzItem Clone() => new PatchItem(AddressReg, ValueReg, Original, Patch);

    public List<uint> Body()
    {
        var list = new List<uint>();
        Encode.LoadImmediate(list, ValueReg, (int)Patch);
        list.Add(Encode.R(0, ValueReg, AddressReg, 2, 0, 0x23)); // sw value, 0(address)
        list.Add(0x0000100f);                                              // fence.i
        return list;
    }
}

/// <summary>A generated program: items laid out at <see cref="Base"/>, then WFI (the end).</summary>
public sealed class FuzzProgram
{
    public ulong Base;
    public List<FuzzItem> Items = [];

    public FuzzProgram Clone() => new() { Base = Base, Items = Items.Select(i => i.Clone()).ToList() };

    public int CountInstructions() => Count(Items);

    private static int Count(List<FuzzItem> items)
    {
        int n = 0;
        foreach (var it in items)
            n += it switch
            {
                PlainItem p => p.Raw.Count,
                JumpItem j => j.Kind switch { JumpKind.Jalr => 2, JumpKind.CJr or JumpKind.CJalr => 3, _ => 1 },
                LoopItem l => 3 + Count(l.Body),
                AddressItem a => 2 + a.Following.Count,
                PatchItem p => 3 + p.Body().Count,
                _ => 0,
            };
        return n;
    }

    /// <summary>Lays the program out. Compressed branches out of reach become 32-bit ones, and the layout is
    /// redone until it is stable. Returns the code and the address of the final WFI.</summary>
    public (byte[] Code, ulong End) Assemble()
    {
        var labels = new Dictionary<int, ulong>();
        for (int pass = 0; pass < 16; pass++)
        {
            var output = new List<byte>();
            bool changed = false;
            var newLabels = new Dictionary<int, ulong>();
            Emit(Items, output, labels, newLabels, ref changed);
            ulong end = Base + (ulong)output.Count;
            Put(output, Encode.Wfi, 4);
            Put(output, Encode.Wfi, 4);
            bool stable = !changed && SameLabels(labels, newLabels);
            labels = newLabels;
            if (stable) return (output.ToArray(), end);
        }
        throw new InvalidOperationException("fuzz program layout did not converge");
    }

    private static bool SameLabels(Dictionary<int, ulong> a, Dictionary<int, ulong> b) =>
        a.Count == b.Count && a.All(kv => b.TryGetValue(kv.Key, out var v) && v == kv.Value);

    private static void Put(List<byte> output, uint raw, int length)
    {
        output.Add((byte)raw);
        output.Add((byte)(raw >> 8));
        if (length == 4)
        {
            output.Add((byte)(raw >> 16));
            output.Add((byte)(raw >> 24));
        }
    }

    private static void PutRaw(List<byte> output, uint raw) => Put(output, raw, Decoder.LengthOf((ushort)raw) == 2 ? 2 : 4);

    private void Emit(List<FuzzItem> items, List<byte> output, Dictionary<int, ulong> labels, Dictionary<int, ulong> newLabels, ref bool changed)
    {
        foreach (var it in items)
        {
            ulong here = Base + (ulong)output.Count;
            switch (it)
            {
                case PlainItem p:
                    foreach (uint r in p.Raw) PutRaw(output, r);
                    break;
                case LabelItem l:
                    newLabels[l.Id] = here;
                    break;
                case AddressItem a:
                {
                    long delta = (long)(a.Address - here);
                    long lo = delta << 52 >> 52;
                    long hi = (delta - lo) >> 12;
                    Put(output, Encode.Auipc(a.Rd, hi), 4);
                    Put(output, Encode.Addi(a.Rd, a.Rd, lo), 4);
                    foreach (uint r in a.Following) PutRaw(output, r);
                    break;
                }
                case PatchItem p:
                {
                    var body = p.Body();
                    long delta = 8 + body.Sum(r => Decoder.LengthOf((ushort)r) == 2 ? 2 : 4);
                    Put(output, Encode.Auipc(p.AddressReg, (delta + 0x800) >> 12), 4);
                    Put(output, Encode.Addi(p.AddressReg, p.AddressReg, delta << 52 >> 52), 4);
                    foreach (uint r in body) PutRaw(output, r);
                    Put(output, p.Original, 4);
                    break;
                }
                case JumpItem j:
                {
                    long target = labels.TryGetValue(j.Label, out var t) ? (long)t : (long)here + 8;
                    long off = target - (long)here;
                    switch (j.Kind)
                    {
                        case JumpKind.CBranch when !Encode.FitsSigned(off, 9):
                            j.Kind = JumpKind.Branch; j.Funct3 = j.Funct3 == 1 ? 1u : 0u; j.Rs2 = 0; changed = true;
                            goto case JumpKind.Branch;
                        case JumpKind.CBranch: Put(output, Encode.CBranch(j.Funct3 == 1, j.Rs1, off), 2); break;
                        case JumpKind.Branch: Put(output, Encode.Branch(j.Funct3, j.Rs1, j.Rs2, off), 4); break;
                        case JumpKind.CJ when !Encode.FitsSigned(off, 12):
                            j.Kind = JumpKind.Jal; j.Rd = 0; changed = true;
                            goto case JumpKind.Jal;
                        case JumpKind.CJ: Put(output, Encode.CJ(off), 2); break;
                        case JumpKind.Jal: Put(output, Encode.Jal(j.Rd, off), 4); break;
                        case JumpKind.Jalr:
                            Put(output, Encode.Auipc(j.Temp, 0), 4);
                            Put(output, Encode.Jalr(j.Rd, j.Temp, off), 4);
                            break;
                        default:
                            Put(output, Encode.Auipc(j.Temp, 0), 4);
                            Put(output, Encode.Addi(j.Temp, j.Temp, off), 4);
                            Put(output, Encode.CJr(j.Kind == JumpKind.CJalr, j.Temp), 2);
                            break;
                    }
                    break;
                }
                case LoopItem l:
                {
                    var init = new List<uint>();
                    Encode.LoadImmediate(init, l.Counter, l.Trips);
                    foreach (uint r in init) PutRaw(output, r);
                    ulong top = Base + (ulong)output.Count;
                    Emit(l.Body, output, labels, newLabels, ref changed);
                    Put(output, Encode.Addi(l.Counter, l.Counter, -1), 4);
                    long back = (long)top - (long)(Base + (ulong)output.Count);
                    if (l.BackEdge == 2 && !Encode.FitsSigned(back, 9)) { l.BackEdge = 0; changed = true; }
                    switch (l.BackEdge)
                    {
                        case 2: Put(output, Encode.CBranch(true, l.Counter, back), 2); break;
                        case 1: Put(output, Encode.Branch(4, 0, l.Counter, back), 4); break;
                        default: Put(output, Encode.Branch(1, l.Counter, 0, back), 4); break;
                    }
                    break;
                }
            }
        }
    }

    /// <summary>A listing of the assembled program: address, encoding, disassembly.</summary>
    public static string Listing(byte[] code, ulong baseAddress, int maxLines = 400)
    {
        var sb = new StringBuilder();
        int off = 0, lines = 0;
        while (off + 2 <= code.Length && lines++ < maxLines)
        {
            ushort low = (ushort)(code[off] | code[off + 1] << 8);
            int len = Decoder.LengthOf(low) == 2 ? 2 : 4;
            if (off + len > code.Length) break;
            uint raw = len == 2 ? low : BitConverter.ToUInt32(code, off);
            var d = Decoder.Decode(raw);
            ulong pc = baseAddress + (ulong)off;
            sb.Append($"  {pc:x8}:  {(len == 2 ? $"    {raw:x4}" : $"{raw:x8}")}  {Disassembler.Format(d, pc)}\n");
            off += len;
        }
        return sb.ToString();
    }
}
