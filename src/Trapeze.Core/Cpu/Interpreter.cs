using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Trapeze.Core.Isa;
using Trapeze.Core.Memory;

namespace Trapeze.Core.Cpu;

/// <summary>
/// Tier 0: the interpreter, and the reference the translator is checked against. Code is decoded once
/// per block into <see cref="BlockCache"/>; a block runs through one switch on the operation; interrupts,
/// the clock and stop requests are looked at between blocks.
/// </summary>
public sealed unsafe partial class Hart
{
    private readonly DecodedInsn[] _decodeBuffer = new DecodedInsn[BlockCache.MaxInstructions];

    /// <summary>Runs blocks until WFI stalls the hart or a poll sees a stop request.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ExecuteSlice()
    {
        HartState* s = _state;
        while (true)
        {
            if (--_pollCountdown < 0)
            {
                _pollCountdown = PollInterval;
                if (Poll()) return;
            }
            if ((Volatile.Read(ref s->Mip) & s->Mie) != 0) TakePendingInterrupt();
            Block? b = FetchBlock(s->Pc);
            if (b != null) Execute(b);
            if (s->Wfi != 0) return;
        }
    }

    /// <summary>The tier-1 translator, or null to interpret only (--no-jit).</summary>
    public ITranslator? Translator
    {
        get => _translator;
        set
        {
            _translator = value;
            _translationThreshold = value?.Threshold ?? long.MaxValue;
        }
    }

    private ITranslator? _translator;
    /// <summary>The translator's threshold, read once: the dispatcher compares every interpreted block's
    /// count with it, and an interface call there cost about 2 % of a hart's time.</summary>
    private long _translationThreshold = long.MaxValue;

    /// <summary>Runs a block: its translation when there is one, else the interpreter, which counts
    /// executions and asks for a translation once the block is hot (or at once with threshold 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Execute(Block b)
    {
        HartState* s = _state;
        var compiled = b.Compiled;
        if (compiled == null && _translationThreshold == 0 && !b.TranslationRequested && b.Region != null)
        {
            // Threshold 0 translates a block before its first run, so that all code runs translated
            // (differential tests, lockstep).
            b.TranslationRequested = true;
            _translator!.Request(this, b);
            compiled = b.Compiled;
        }
        if (compiled != null)
        {
            ulong pc = s->Pc, retired = s->Retired;
            RegionExit exit = _lockstep is { } ls && ls.ShouldCheck() ? RunLockstep(b, compiled, ls) : RunTranslated(b, compiled);
            // A region that left at its first instruction (a TLB miss there) would be entered again at
            // once, forever: its block is interpreted once instead, which also fills the TLB.
            if (exit == RegionExit.LeftAtMiss && s->Retired == retired && s->Pc == pc && b.IsCurrent) ExecuteBlock(b);
            return;
        }
        ExecuteBlock(b);
        if (b.Executions >= _translationThreshold && !b.TranslationRequested && b.Region != null)
        {
            b.TranslationRequested = true;
            _translator!.Request(this, b);
        }
    }

    /// <summary>
    /// Runs a translated region, then, while nothing needs the dispatcher, the translations it continues
    /// into, without going back through the block lookup and the run loop (chaining). A successor is run
    /// only when pc's page is in the fetch TLB (same privilege, paging and mapping as the block lookup would
    /// see) at the physical address its block starts at, and that block is current (no store has reached its
    /// page since it was translated). The chain stops when an interrupt is pending and enabled, when the
    /// poll countdown runs out (the clock, fences and stop requests), at a block not translated, and under
    /// lockstep (every run is checked from the dispatcher).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private RegionExit RunTranslated(Block b, CompiledRegion compiled)
    {
        HartState* s = _state;
        ulong before = s->Retired;
        while (true)
        {
            RegionExit exit = compiled.Function(s, this, compiled.Insns);
            Stats.RegionRuns++;
            // Asked again every RetranslateAfterRuns runs while this hart's block holds a first translation:
            // the count is the region's, which harts may share (see LeftAtMiss).
            if (!compiled.Remade && ++compiled.Runs % RetranslateAfterRuns == 0 && b.Compiled == compiled)
                _translator?.Retranslate(this, b);
            if (exit != RegionExit.Continue)
            {
                Stats.TranslatedInstructions += (long)(s->Retired - before);
                if (exit == RegionExit.Exception) RaiseException((ExceptionCause)s->PendingCause, s->PendingTval);
                else LeftAtMiss(b, compiled);
                return exit;
            }
            if (_lockstep != null || --_pollCountdown < 0 || (Volatile.Read(ref s->Mip) & s->Mie) != 0) break;
            var next = ChainTarget(compiled, s->Pc, out var nextCompiled);
            if (next == null) break;
            Stats.ChainedRuns++;
            b = next;
            compiled = nextCompiled!;
        }
        Stats.TranslatedInstructions += (long)(s->Retired - before);
        return RegionExit.Continue;
    }

    /// <summary>Runs after which a region is translated again: its paths were chosen from the counts of
    /// the moment it turned hot (4000 runs of its entry), when paths that later dominate may not have run
    /// yet; a region that ran this often has the counts of its whole life to choose from, and pays back a
    /// second compilation.</summary>
    public const int RetranslateAfterRuns = 50_000;

    /// <summary>Region runs that leave at TLB misses before the region is translated again with the
    /// MMU called in place. Misses that recur (device registers, stores to pages that hold code, misaligned
    /// accesses) reach it soon; those after a context switch or a new mapping seldom do.</summary>
    public const int RetranslateAfterMisses = 64;

    /// <summary>After a region left at a TLB miss: counts it, and asks for the region to be made again
    /// with the MMU's slow path in place once it keeps leaving. The dispatcher then interprets from pc.
    /// Asked again every <see cref="RetranslateAfterMisses"/> exits while this hart's block still holds
    /// the leaving translation: the region may be shared by harts (the count is the region's, the block
    /// this hart's; the translator installs the version another hart had made), and a request may be
    /// dropped by a full queue.</summary>
    private void LeftAtMiss(Block b, CompiledRegion compiled)
    {
        Stats.TlbMissExits++;
        if (++compiled.MissExits % RetranslateAfterMisses == 0 && b.Compiled == compiled && b.Region != null)
            _translator?.Retranslate(this, b);
    }

    /// <summary>The translated block to run next at <paramref name="pc"/>, or null when the dispatcher must look.
    /// <see cref="CompiledRegion.Successors"/> remembers the blocks the region went on to lately (the
    /// region may be shared by harts: a stale or another hart's entry fails the address check).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private Block? ChainTarget(CompiledRegion from, ulong pc, out CompiledRegion? compiled)
    {
        compiled = null;
        if (!Mmu.FetchHit(pc, out ulong pa)) return null;
        Block?[] successors = from.Successors;
        Block? next = null;
        foreach (Block? candidate in successors)
        {
            if (candidate != null && candidate.PhysPc == pa) { next = candidate; break; }
        }
        if (next == null)
        {
            next = Blocks.Find(pa);
            if (next == null) return null;
            successors[from.NextSuccessorSlot++ & (CompiledRegion.SuccessorSlots - 1)] = next;
        }
        if (!next.IsCurrent) return null;
        compiled = next.Compiled;
        return compiled != null ? next : null;
    }

    /// <summary>Runs at most <paramref name="maxBlocks"/> blocks (tests, lockstep, the bare-metal runner). Returns
    /// early when the hart stalls in WFI or is parked without a start pending.</summary>
    public void Step(int maxBlocks)
    {
        BeginExecuting();
        try
        {
            StepBlocks(maxBlocks);
        }
        finally
        {
            EndExecuting();
        }
    }

    private void StepBlocks(int maxBlocks)
    {
        HartState* s = _state;
        for (int i = 0; i < maxBlocks && !_stopRequested; i++)
        {
            if (_parked)
            {
                ServiceRequests();
                if (!TryApplyStart()) return;
            }
            if (s->Wfi != 0)
            {
                UpdateTimers();
                if ((Volatile.Read(ref s->Mip) & s->Mie) == 0) return;
                s->Wfi = 0;
            }
            if ((i & (PollInterval - 1)) == 0)
            {
                // Also bounds the chained region runs until the next poll (see RunTranslated).
                _pollCountdown = PollInterval;
                Poll();
            }
            if ((Volatile.Read(ref s->Mip) & s->Mie) != 0) TakePendingInterrupt();
            Block? b = FetchBlock(s->Pc);
            if (b != null) Execute(b);
        }
    }

    /// <summary>Finds or decodes the block at <paramref name="pc"/>. On a fetch fault the exception is
    /// taken and null returned.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private Block? FetchBlock(ulong pc)
    {
        if (!Mmu.TranslateFetch(pc, out byte* host, out ulong pa))
        {
            RaiseException((ExceptionCause)_state->PendingCause, _state->PendingTval);
            return null;
        }
        Block? b = Blocks.Find(pa);
        if (b != null && b.IsCurrent) return b;
        return DecodeBlock(pc, host, pa);
    }

    private Block? DecodeBlock(ulong pc, byte* host, ulong pa)
    {
        Stats.BlocksDecoded++;
        // Pages only partly executable under PMP are fetched one instruction at a time, each checked.
        bool wholePage = Mmu.FetchPageCached(pc);
        // Track stores to the page before reading its bytes, so a racing store makes the block stale.
        GuestRam? region = Bus.FindMemory(pa);
        ulong page = 0;
        uint generation = 0;
        if (region != null)
        {
            Mmu.MarkCode(region, pa);
            page = region.PageOf(pa);
            generation = Volatile.Read(ref region.CodeGeneration[page]);
        }
        int offset = (int)(pa & 0xfff);
        int n = 0;
        while (n < BlockCache.MaxInstructions && offset <= 4094)
        {
            ushort low = *(ushort*)(host + (offset - (int)(pa & 0xfff)));
            int len = Decoder.LengthOf(low);
            if (len == 4 && offset + 4 > 4096) break; // straddles the page: handled on its own below
            uint raw = len == 4 ? *(uint*)(host + (offset - (int)(pa & 0xfff))) : low;
            if (!wholePage && len == 4 && !Mmu.Translate(pc, 4, Trapeze.Core.Mmu.AccessType.Fetch, out _))
            {
                if (n > 0) break;
                RaiseException((ExceptionCause)_state->PendingCause, _state->PendingTval);
                return null;
            }
            DecodedInsn d = Decoder.Decode(raw);
            _decodeBuffer[n++] = d;
            offset += d.Length;
            if (!wholePage || BlockCache.EndsBlock(d.Op)) break;
        }
        if (n == 0) return DecodeStraddling(pc, host);
        var b = new Block(pa, _decodeBuffer.AsSpan(0, n).ToArray(), region, page, generation);
        if (wholePage) Blocks.Add(b);
        // A region runs on from its entry without checking each fetch, so it must not be made for a page
        // that PMP makes only partly executable.
        else b.TranslationRequested = true;
        return b;
    }

    /// <summary>A 32-bit instruction whose second half is on the next page: both pages are translated (a
    /// fault on the second reports its address) and the block is not cached, since the second page's
    /// mapping may change independently.</summary>
    private Block? DecodeStraddling(ulong pc, byte* host)
    {
        ushort low = *(ushort*)host;
        if (!Mmu.TranslateFetch(pc + 2, out byte* host2, out _))
        {
            RaiseException((ExceptionCause)_state->PendingCause, _state->PendingTval);
            return null;
        }
        uint raw = low | (uint)*(ushort*)host2 << 16;
        return new Block(ulong.MaxValue, [Decoder.Decode(raw)]);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ExecuteBlock(Block block)
    {
        HartState* s = _state;
        Stats.Blocks++;
        block.Executions++;
        ulong pc = s->Pc;
        DecodedInsn[] insns = block.Insns;
        int n = insns.Length;
        ref DecodedInsn first = ref MemoryMarshal.GetArrayDataReference(insns);
        int i = 0;
        for (; i < n; i++)
        {
            ref DecodedInsn d = ref Unsafe.Add(ref first, i);
            switch (d.Op)
            {
                // ---- RV64I
                case Op.Lui: Rv64I.Lui(s, d); break;
                case Op.Auipc: Rv64I.Auipc(s, d, pc); break;
                case Op.Jal: pc = Rv64I.Jal(s, d, pc); goto Jumped;
                case Op.Jalr: pc = Rv64I.Jalr(s, d, pc); goto Jumped;
                case Op.Beq: if (Rv64I.Beq(s, d)) goto Taken; break;
                case Op.Bne: if (Rv64I.Bne(s, d)) goto Taken; break;
                case Op.Blt: if (Rv64I.Blt(s, d)) goto Taken; break;
                case Op.Bge: if (Rv64I.Bge(s, d)) goto Taken; break;
                case Op.Bltu: if (Rv64I.Bltu(s, d)) goto Taken; break;
                case Op.Bgeu: if (Rv64I.Bgeu(s, d)) goto Taken; break;
                case Op.Lb: if (!Rv64I.Lb(this, s, d)) goto Fault; break;
                case Op.Lh: if (!Rv64I.Lh(this, s, d)) goto Fault; break;
                case Op.Lw: if (!Rv64I.Lw(this, s, d)) goto Fault; break;
                case Op.Ld: if (!Rv64I.Ld(this, s, d)) goto Fault; break;
                case Op.Lbu: if (!Rv64I.Lbu(this, s, d)) goto Fault; break;
                case Op.Lhu: if (!Rv64I.Lhu(this, s, d)) goto Fault; break;
                case Op.Lwu: if (!Rv64I.Lwu(this, s, d)) goto Fault; break;
                case Op.Sb: if (!Rv64I.Sb(this, s, d)) goto Fault; break;
                case Op.Sh: if (!Rv64I.Sh(this, s, d)) goto Fault; break;
                case Op.Sw: if (!Rv64I.Sw(this, s, d)) goto Fault; break;
                case Op.Sd: if (!Rv64I.Sd(this, s, d)) goto Fault; break;
                case Op.Addi: Rv64I.Addi(s, d); break;
                case Op.Slti: Rv64I.Slti(s, d); break;
                case Op.Sltiu: Rv64I.Sltiu(s, d); break;
                case Op.Xori: Rv64I.Xori(s, d); break;
                case Op.Ori: Rv64I.Ori(s, d); break;
                case Op.Andi: Rv64I.Andi(s, d); break;
                case Op.Slli: Rv64I.Slli(s, d); break;
                case Op.Srli: Rv64I.Srli(s, d); break;
                case Op.Srai: Rv64I.Srai(s, d); break;
                case Op.Add: Rv64I.Add(s, d); break;
                case Op.Sub: Rv64I.Sub(s, d); break;
                case Op.Sll: Rv64I.Sll(s, d); break;
                case Op.Slt: Rv64I.Slt(s, d); break;
                case Op.Sltu: Rv64I.Sltu(s, d); break;
                case Op.Xor: Rv64I.Xor(s, d); break;
                case Op.Srl: Rv64I.Srl(s, d); break;
                case Op.Sra: Rv64I.Sra(s, d); break;
                case Op.Or: Rv64I.Or(s, d); break;
                case Op.And: Rv64I.And(s, d); break;
                case Op.Addiw: Rv64I.Addiw(s, d); break;
                case Op.Slliw: Rv64I.Slliw(s, d); break;
                case Op.Srliw: Rv64I.Srliw(s, d); break;
                case Op.Sraiw: Rv64I.Sraiw(s, d); break;
                case Op.Addw: Rv64I.Addw(s, d); break;
                case Op.Subw: Rv64I.Subw(s, d); break;
                case Op.Sllw: Rv64I.Sllw(s, d); break;
                case Op.Srlw: Rv64I.Srlw(s, d); break;
                case Op.Sraw: Rv64I.Sraw(s, d); break;
                case Op.Fence: Rv64I.Fence(d); break;
                // ---- RV64M
                case Op.Mul: Rv64M.Mul(s, d); break;
                case Op.Mulh: Rv64M.Mulh(s, d); break;
                case Op.Mulhsu: Rv64M.Mulhsu(s, d); break;
                case Op.Mulhu: Rv64M.Mulhu(s, d); break;
                case Op.Div: Rv64M.Div(s, d); break;
                case Op.Divu: Rv64M.Divu(s, d); break;
                case Op.Rem: Rv64M.Rem(s, d); break;
                case Op.Remu: Rv64M.Remu(s, d); break;
                case Op.Mulw: Rv64M.Mulw(s, d); break;
                case Op.Divw: Rv64M.Divw(s, d); break;
                case Op.Divuw: Rv64M.Divuw(s, d); break;
                case Op.Remw: Rv64M.Remw(s, d); break;
                case Op.Remuw: Rv64M.Remuw(s, d); break;
                // ---- RV64A
                case Op.LrW: if (!Rv64A.LrW(this, s, d)) goto Fault; break;
                case Op.LrD: if (!Rv64A.LrD(this, s, d)) goto Fault; break;
                case Op.ScW: if (!Rv64A.ScW(this, s, d)) goto Fault; break;
                case Op.ScD: if (!Rv64A.ScD(this, s, d)) goto Fault; break;
                case >= Op.AmoswapW and <= Op.AmomaxuW:
                case >= Op.AmoswapD and <= Op.AmomaxuD:
                    if (!Rv64A.Amo(this, s, d)) goto Fault; break;
                // ---- RV64F / RV64D
                case >= Op.Flw and <= Op.FcvtSLu:
                    if (!Rv64F.Execute(this, s, d)) goto Fault; break;
                case >= Op.Fld and <= Op.FmvDX:
                    if (!Rv64D.Execute(this, s, d)) goto Fault; break;
                default:
                    // System instructions are always last in their block.
                    s->Pc = pc;
                    s->Retired += (ulong)i;
                    ExecuteSystem(d);
                    return;
            }
            pc += d.Length;
            continue;
        Taken:
            pc += (ulong)d.Imm;
        Jumped:
            s->Pc = pc;
            s->Retired += (ulong)(i + 1);
            return;
        Fault:
            s->Pc = pc;
            s->Retired += (ulong)i;
            RaiseException((ExceptionCause)s->PendingCause, s->PendingTval);
            return;
        }
        s->Pc = pc;
        s->Retired += (ulong)n;
    }
}
