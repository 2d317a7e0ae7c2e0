using Trapeze.Core.Isa;

namespace Trapeze.Core.Cpu;

/// <summary>How translated code returned to the dispatcher.</summary>
public enum RegionExit : ulong
{
    /// <summary>pc and the retired count are up to date; continue at pc (which may be a sensitive
    /// instruction that the interpreter executes).</summary>
    Continue = 0,
    /// <summary>An instruction raised an exception: pc is that instruction, the cause is in
    /// <see cref="HartState.PendingCause"/>/<see cref="HartState.PendingTval"/>.</summary>
    Exception = 1,
    /// <summary>A load or store missed the TLB (or needs the MMU's slow path) in a region translated
    /// without the out-of-line MMU call (<see cref="CompiledRegion.LeavesAtMiss"/>): pc is that
    /// instruction, not executed; the interpreter runs it (and fills the TLB).</summary>
    LeftAtMiss = 2,
}

/// <summary>The entry point of a translated region: guest state in, exit reason out.</summary>
public unsafe delegate RegionExit RegionFunction(HartState* state, Hart hart, DecodedInsn[] insns);

/// <summary>
/// A region of guest code translated to host code (tier 1). It starts at the guest-physical address of
/// the block it was compiled for and is valid while the code generation of its page is unchanged.
/// <see cref="Insns"/> holds the decoded instructions that helper calls refer to by index.
/// </summary>
public sealed class CompiledRegion(RegionFunction function, DecodedInsn[] insns, int instructionCount, int[] blockStarts,
    bool leavesAtMiss = false, bool remade = false)
{
    public RegionFunction Function { get; } = function;
    public DecodedInsn[] Insns { get; } = insns;
    public int InstructionCount { get; } = instructionCount;

    /// <summary>Page offsets of the region's blocks: which paths it holds (diagnostic listings rebuild
    /// the region from these, since the paths chosen depended on execution counts of the time).</summary>
    public int[] BlockStarts { get; } = blockStarts;
    public int BlockCount => BlockStarts.Length;

    /// <summary>True for a region's first translation: a memory access that misses the TLB leaves the
    /// region (<see cref="RegionExit.LeftAtMiss"/>) instead of calling the MMU and going on, which makes
    /// RyuJIT's work per access about a third smaller. A region that leaves that way often is translated
    /// again with the call (see <see cref="MissExits"/>).</summary>
    public bool LeavesAtMiss { get; } = leavesAtMiss;

    /// <summary>Runs that left at a TLB miss (counted by the harts running it, racily: a hint).</summary>
    public int MissExits;

    /// <summary>A translation made again (ITranslator.Retranslate): its paths chosen from the counts of a
    /// region that has run long, the MMU called in place at misses. Never made a third time.</summary>
    public bool Remade { get; } = remade;

    /// <summary>Runs so far, counted until the region is hot enough to be made again (see
    /// Hart.RetranslateAfterRuns); racy like <see cref="MissExits"/>.</summary>
    public int Runs;

    /// <summary>Blocks runs of this region continued into (see Hart.RunTranslated): a region has several
    /// exits, each usually leading to one place; the slots are replaced in turn.</summary>
    public readonly Block?[] Successors = new Block?[SuccessorSlots];
    public const int SuccessorSlots = 4;
    public int NextSuccessorSlot;
}

/// <summary>Compiles hot blocks (tier 1). Implemented by Trapeze.Jit; the hart only asks.</summary>
public interface ITranslator
{
    /// <summary>Blocks executed this many times by the interpreter are submitted; 0: every block, before
    /// its first run.</summary>
    int Threshold { get; }

    /// <summary>Asks for <paramref name="block"/> to be translated; the translation is installed into
    /// <see cref="Block.Compiled"/> when ready (possibly at once, possibly on another thread).</summary>
    void Request(Hart hart, Block block);

    /// <summary>Asks for <paramref name="block"/>'s region to be translated again, its paths chosen from
    /// the counts of now and the MMU's slow path called in place (its translation leaves at TLB misses
    /// too often, or it is hot); installed when ready.</summary>
    void Retranslate(Hart hart, Block block);
}
