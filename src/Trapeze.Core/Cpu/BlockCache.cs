using Trapeze.Core.Isa;
using Trapeze.Core.Memory;

namespace Trapeze.Core.Cpu;

/// <summary>A run of decoded instructions starting at one guest-physical address, ending at a control
/// transfer, a sensitive instruction, a page boundary or <see cref="BlockCache.MaxInstructions"/>.</summary>
public sealed class Block(ulong physPc, DecodedInsn[] insns, GuestRam? region = null, ulong page = 0, uint generation = 0)
{
    public ulong PhysPc { get; } = physPc;
    public DecodedInsn[] Insns { get; } = insns;
    public long Executions;

    /// <summary>The memory the block was decoded from and the page's code generation then: the block is
    /// current while the generation is unchanged (no store has reached the page since).</summary>
    public GuestRam? Region { get; } = region;
    public ulong Page { get; } = page;
    public uint Generation { get; } = generation;

    public bool IsCurrent
    {
        // Inlined into the dispatcher, which asks for every block it runs (not inlined, it ran as tier-0
        // code there for a good part of short runs).
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        get => Region == null || Volatile.Read(ref Region.CodeGeneration[Page]) == Generation;
    }

    /// <summary>The translation of the region starting here, once tier 1 has made it.</summary>
    public volatile CompiledRegion? Compiled;

    /// <summary>Set when translation was requested (or refused), so it is asked for once.</summary>
    public volatile bool TranslationRequested;
}

/// <summary>
/// Decoded blocks of one hart, keyed by guest-physical address (decoding depends only on the bytes).
/// A small direct-mapped array in front of the dictionary serves the hot blocks. Stores to pages holding
/// code make their blocks stale through the page's code generation (see <see cref="Block.IsCurrent"/>),
/// so FENCE.I rarely needs to empty the cache (see Hart.FenceI).
/// </summary>
public sealed class BlockCache
{
    public const int MaxInstructions = 64;
    private const int FastBits = 12;

    private readonly Block?[] _fast = new Block?[1 << FastBits];
    private readonly Dictionary<ulong, Block> _all = new();

    public int Count => _all.Count;

    // Optimized at its first call: the dispatcher runs it for every block, and it is too large to be
    // inlined there, so it would otherwise run as tier-0 code for the first part of every run.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
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
