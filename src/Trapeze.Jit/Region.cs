using Trapeze.Core.Cpu;
using Trapeze.Core.Isa;

namespace Trapeze.Jit;

/// <summary>How a region block ends.</summary>
public enum BlockEnd
{
    /// <summary>Conditional branch: taken to <see cref="RegionBlock.Target"/>, else <see cref="RegionBlock.Next"/>.</summary>
    Branch,
    /// <summary>JAL: to <see cref="RegionBlock.Target"/>.</summary>
    Jump,
    /// <summary>JALR: to a computed address, always leaves the region.</summary>
    IndirectJump,
    /// <summary>Falls through to <see cref="RegionBlock.Next"/> (block length limit or another block's start).</summary>
    FallThrough,
    /// <summary>Leaves the region at <see cref="RegionBlock.Next"/> without executing it: a sensitive
    /// instruction the interpreter runs, the end of the page, or a page-straddling instruction.</summary>
    Exit,
}

/// <summary>A straight-line run of instructions inside a region. Offsets are from the start of the 4 KiB page.</summary>
public sealed class RegionBlock
{
    public required int Offset { get; init; }
    public List<(DecodedInsn Insn, int Offset)> Insns { get; } = [];
    public BlockEnd End { get; set; }
    /// <summary>Branch or jump target (page offset; may lie outside the page).</summary>
    public long Target { get; set; }
    /// <summary>Fall-through / exit offset.</summary>
    public int Next { get; set; }
}

/// <summary>
/// A region: blocks reachable from an entry inside one guest page, including loops. Branches between
/// them become host branches; everything else leaves through the dispatcher.
/// </summary>
public sealed class Region
{
    public const int MaxInstructions = 128;
    public const int MaxBlocks = 64;
    public const int MaxBlockInstructions = 64;

    public required ulong EntryPhys { get; init; }
    public required int EntryOffset { get; init; }
    public Dictionary<int, RegionBlock> Blocks { get; } = [];
    public int InstructionCount { get; private set; }

    /// <summary>Page offsets just after the region's calls (JAL that links): where the callee's return
    /// lands. An indirect jump in the region compares its target with these and stays inside on a match,
    /// so a call to a function in the same page and its return are host branches.</summary>
    public List<int> ReturnSites { get; } = [];
    public const int MaxReturnSites = 8;

    /// <summary>Translate loads and stores to leave the region at a TLB miss instead of calling the MMU
    /// (a first translation; see CompiledRegion.LeavesAtMiss).</summary>
    public bool LeaveAtMiss { get; set; }

    /// <summary>A translation made again (see CompiledRegion.Remade).</summary>
    public bool Remade { get; set; }

    /// <summary>A branch's successor joins the region when its block ran at least this fraction of the
    /// entry's runs in the interpreter (1/HotFraction): paths that never or rarely ran (error handling,
    /// loop exits into cold code) stay out, since RyuJIT's cost grows with the IL it is given.</summary>
    public const int HotFraction = 64;

    /// <summary>Discovers the region from the page bytes at <paramref name="page"/> (4096 bytes). Returns
    /// null when the entry itself cannot be translated (it is a sensitive instruction).
    /// <paramref name="follow"/>, given a page offset, says whether a conditional branch's successor
    /// there joins the region (null: every successor does); jumps and straight-line fall-throughs are
    /// always followed, since they run whenever the block before them does.</summary>
    public static unsafe Region? Build(byte* page, ulong entryPhys, Func<int, bool>? follow = null)
    {
        int entry = (int)(entryPhys & 0xfff);
        var region = new Region { EntryPhys = entryPhys, EntryOffset = entry };
        var work = new Queue<int>();
        work.Enqueue(entry);
        while (work.Count > 0 && region.Blocks.Count < MaxBlocks && region.InstructionCount < MaxInstructions)
        {
            int start = work.Dequeue();
            if (region.Blocks.ContainsKey(start)) continue;
            var b = region.DecodeBlock(page, start);
            if (b.Insns.Count == 0 && start == entry) return null;
            region.Blocks[start] = b;
            region.InstructionCount += b.Insns.Count;
            switch (b.End)
            {
                case BlockEnd.Branch:
                    if (InPage(b.Target) && (follow == null || follow((int)b.Target))) work.Enqueue((int)b.Target);
                    if (follow == null || follow(b.Next)) work.Enqueue(b.Next);
                    break;
                case BlockEnd.Jump:
                    if (InPage(b.Target)) work.Enqueue((int)b.Target);
                    if (b.Insns[^1].Insn.Rd is not (0 or DecodedInsn.SinkRegister) && InPage(b.Next)
                        && region.ReturnSites.Count < MaxReturnSites && (follow == null || follow(b.Next)))
                    {
                        region.ReturnSites.Add(b.Next);
                        work.Enqueue(b.Next);
                    }
                    break;
                case BlockEnd.FallThrough:
                    work.Enqueue(b.Next);
                    break;
            }
        }
        // A site whose block the size limits left out is no place to return to.
        region.ReturnSites.RemoveAll(site => !region.Blocks.ContainsKey(site));
        return region;
    }

    /// <summary>The region a hart's interpreter counts call for: from <paramref name="entry"/>, a branch
    /// successor joins when its block ran at least 1/<see cref="HotFraction"/> as often as the entry. Runs
    /// on the hart's thread, which owns <paramref name="blocks"/> and the counts. Null when the entry
    /// block has no page to read or cannot be translated.</summary>
    public static unsafe Region? ForHotPaths(Block entry, BlockCache blocks)
    {
        var ram = entry.Region;
        if (ram == null) return null;
        byte* page = ram.Host + (entry.Page << Trapeze.Core.Memory.GuestRam.PageShift);
        long entryRuns = entry.Executions;
        if (entryRuns == 0) return Build(page, entry.PhysPc); // translated before its first run: no counts
        ulong pageBase = entry.PhysPc & ~0xfffUL;
        return Build(page, entry.PhysPc, offset =>
        {
            var b = blocks.Find(pageBase + (ulong)offset);
            return b != null && b.Executions * HotFraction >= entryRuns;
        });
    }

    public static bool InPage(long offset) => offset >= 0 && offset < 4096;

    private unsafe RegionBlock DecodeBlock(byte* page, int start)
    {
        var b = new RegionBlock { Offset = start };
        int off = start;
        while (true)
        {
            if (off != start && Blocks.ContainsKey(off)) { b.End = BlockEnd.FallThrough; b.Next = off; return b; }
            if (b.Insns.Count >= MaxBlockInstructions) { b.End = BlockEnd.FallThrough; b.Next = off; return b; }
            if (off > 4094) { b.End = BlockEnd.Exit; b.Next = off; return b; }
            ushort low = *(ushort*)(page + off);
            int len = Decoder.LengthOf(low);
            if (len == 0 || (len == 4 && off + 4 > 4096)) { b.End = BlockEnd.Exit; b.Next = off; return b; }
            uint raw = len == 4 ? *(uint*)(page + off) : low;
            DecodedInsn d = Decoder.Decode(raw);
            if (BlockCache.IsSystem(d.Op) && !Hart.IsFloatingPointCsr(d)) { b.End = BlockEnd.Exit; b.Next = off; return b; }
            b.Insns.Add((d, off));
            off += d.Length;
            switch (d.Op)
            {
                case Op.Beq or Op.Bne or Op.Blt or Op.Bge or Op.Bltu or Op.Bgeu:
                    b.End = BlockEnd.Branch; b.Target = off - d.Length + d.Imm; b.Next = off; return b;
                case Op.Jal:
                    b.End = BlockEnd.Jump; b.Target = off - d.Length + d.Imm; b.Next = off; return b;
                case Op.Jalr:
                    b.End = BlockEnd.IndirectJump; b.Next = off; return b;
            }
        }
    }
}

/// <summary>Listings of regions for diagnostics (lockstep reports).</summary>
public static class RegionListing
{
    /// <summary>Disassembles the region that would be built from <paramref name="block"/>'s entry, with
    /// addresses as the hart sees them when it enters at <paramref name="pc"/>.</summary>
    public static unsafe string Describe(Block block, ulong pc)
    {
        var ram = block.Region;
        if (ram == null) return "";
        int[]? starts = block.Compiled?.BlockStarts;
        var region = Region.Build(ram.Host + (block.Page << Trapeze.Core.Memory.GuestRam.PageShift), block.PhysPc,
            starts == null ? null : offset => Array.IndexOf(starts, offset) >= 0);
        if (region == null) return "";
        ulong pageBase = pc - (ulong)region.EntryOffset;
        var sb = new System.Text.StringBuilder($"region at 0x{pc:x}: {region.Blocks.Count} blocks, {region.InstructionCount} instructions\n");
        foreach (var b in region.Blocks.Values.OrderBy(b => b.Offset))
        {
            foreach (var (d, off) in b.Insns)
                sb.Append($"  {pageBase + (ulong)off:x}:  {Disassembler.Format(d, pageBase + (ulong)off)}\n");
            string end = b.End switch
            {
                BlockEnd.Branch or BlockEnd.Jump => $"-> 0x{pageBase + (ulong)b.Target:x}" + (b.End == BlockEnd.Branch ? $" / 0x{pageBase + (ulong)b.Next:x}" : ""),
                BlockEnd.IndirectJump => "-> indirect",
                _ => $"-> 0x{pageBase + (ulong)b.Next:x}" + (b.End == BlockEnd.Exit ? " (exit)" : ""),
            };
            sb.Append($"  {"",8}   {end}\n");
        }
        return sb.ToString();
    }
}
