using Trapeze.Core.Isa;

namespace Trapeze.Core.Cpu;

/// <summary>A run of decoded instructions starting at one guest-physical address, ending at a control
/// transfer, a sensitive instruction, a page boundary or <see cref="BlockCache.MaxInstructions"/>.</summary>
public sealed class Block(ulong physPc, DecodedInsn[] insns)
{
    public ulong PhysPc { get; } = physPc;
    public DecodedInsn[] Insns { get; } = insns;
    public long Executions;
}

/// <summary>
/// Decoded blocks of one hart, keyed by guest-physical address (decoding depends only on the bytes).
/// A small direct-mapped array in front of the dictionary serves the hot blocks. FENCE.I empties it:
/// instruction fetch need not see stores before a FENCE.I on the same hart (Unpriv. spec 3.1), so a
/// per-hart cache emptied there is exact.
/// </summary>
public sealed class BlockCache
{
    public const int MaxInstructions = 64;
    private const int FastBits = 12;

    private readonly Block?[] _fast = new Block?[1 << FastBits];
    private readonly Dictionary<ulong, Block> _all = new();

    public int Count => _all.Count;

    public Block? Find(ulong pa)
    {
        int i = (int)((pa >> 1) & ((1 << FastBits) - 1));
        Block? b = _fast[i];
        if (b != null && b.PhysPc == pa) return b;
        if (_all.TryGetValue(pa, out b)) { _fast[i] = b; return b; }
        return null;
    }

    public void Add(Block b)
    {
        _all[b.PhysPc] = b;
        _fast[(int)((b.PhysPc >> 1) & ((1 << FastBits) - 1))] = b;
    }

    public void Clear()
    {
        Array.Clear(_fast);
        _all.Clear();
    }

    /// <summary>Instructions after which a block ends: control transfers and everything that must run
    /// with the architectural state written back (CSR access, traps, xRET, WFI, fences of the MMU/icache).</summary>
    public static bool EndsBlock(Op op) => op switch
    {
        Op.Jal or Op.Jalr or Op.Beq or Op.Bne or Op.Blt or Op.Bge or Op.Bltu or Op.Bgeu => true,
        _ => IsSystem(op),
    };

    /// <summary>Sensitive instructions: executed by <see cref="Hart"/>'s system path, always last in a block.</summary>
    public static bool IsSystem(Op op) => op switch
    {
        Op.Illegal or Op.Ecall or Op.Ebreak or Op.Mret or Op.Sret or Op.Wfi or Op.SfenceVma or Op.FenceI
            or Op.Csrrw or Op.Csrrs or Op.Csrrc or Op.Csrrwi or Op.Csrrsi or Op.Csrrci => true,
        _ => false,
    };
}
