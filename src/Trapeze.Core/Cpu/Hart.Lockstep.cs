using Trapeze.Core.Mmu;

namespace Trapeze.Core.Cpu;

public sealed unsafe partial class Hart
{
    private LockstepChecker? _lockstep;

    /// <summary>Checks translated regions against the interpreter as they run (see <see cref="LockstepChecker"/>).
    /// Set before the hart runs; it makes every store take the MMU's slow path.</summary>
    public LockstepChecker? Lockstep
    {
        get => _lockstep;
        set
        {
            _lockstep = value;
            Mmu.NoFastWrites = value != null;
            Mmu.FlushAll();
        }
    }

    /// <summary>Runs a translated region, then the interpreter over the same instructions from the same
    /// state, and compares; the interpreter's result stays. Returns how the region exited.</summary>
    private RegionExit RunLockstep(Block b, CompiledRegion compiled, LockstepChecker ls)
    {
        HartState* s = _state;
        HartState before = *s;
        ulong pcBefore = s->Pc;

        // 1. Translated, recorded (RAM writes, device accesses, TLB fills).
        Mmu.Log = ls.Translated;
        ls.Translated.Record();
        RegionExit exit;
        try { exit = compiled.Function(s, this, compiled.Insns); }
        finally { Mmu.Log = null; }
        ulong count = s->Retired - before.Retired;
        if (ls.Translated.WroteWatchedPage)
        {
            // Not replayable (the watcher already acted): keep the translated result unchecked.
            ls.Skipped++;
            if (exit == RegionExit.Exception) RaiseException((ExceptionCause)s->PendingCause, s->PendingTval);
            return exit;
        }
        // The guest does not see the time the check takes (with a real-time timebase, a guest slowed
        // down that much would spend all its time in timer interrupts).
        bool clockWasPaused = Clock.IsPaused;
        if (!clockWasPaused) Clock.Pause();
        try { CheckAgainstInterpreter(b, ls, exit, count, &before, pcBefore); }
        finally { if (!clockWasPaused) Clock.Resume(); }
        if (exit == RegionExit.LeftAtMiss) LeftAtMiss(b, compiled);
        return exit;
    }

    private void CheckAgainstInterpreter(Block b, LockstepChecker ls, RegionExit exit, ulong count, HartState* before, ulong pcBefore)
    {
        HartState* s = _state;
        HartState translated = *s;
        if (exit == RegionExit.Exception) EnterTrapQuietly(&translated);
        var newWords = ls.NewWords;
        newWords.Clear();
        foreach (var (pa, old) in ls.Translated.OldWords)
        {
            ulong* p = HostWord(pa);
            newWords[pa] = *p;
            *p = old;
        }
        // Both runs start from the same cached translations, so that both walk the same page tables (and
        // set A/D bits) alike.
        ls.Translated.UndoTlbFills();

        // 2. Interpreted from the saved state, device reads replayed.
        HartStateDiff.CopyArchitectural(before, s, keepMip: true);
        Mmu.UpdateContext();
        ls.Interpreted.ReplayFrom(ls.Translated);
        Mmu.Log = ls.Interpreted;
        try { InterpretInstructions(count, exit == RegionExit.Exception); }
        finally { Mmu.Log = null; }

        // 3. Compare.
        ls.Checks++;
        ls.CheckedInstructions += (long)count;
        var diffs = HartStateDiff.Compare(s, &translated, ignoreMip: true);
        bool memoryDiffers = false;
        foreach (var (pa, value) in newWords) memoryDiffers |= *HostWord(pa) != value;
        foreach (var (pa, old) in ls.Interpreted.OldWords)
            if (!newWords.ContainsKey(pa)) memoryDiffers |= *HostWord(pa) != old;
        var memory = new List<string>();
        if (memoryDiffers)
            foreach (var pa in newWords.Keys.Union(ls.Interpreted.OldWords.Keys).Order())
            {
                ulong interpreted = *HostWord(pa);
                ulong expectedByTranslated = newWords.TryGetValue(pa, out ulong n) ? n : ls.Interpreted.OldWords[pa];
                if (interpreted != expectedByTranslated)
                    memory.Add($"memory 0x{pa:x}: interpreter 0x{interpreted:x16}, translated 0x{expectedByTranslated:x16}");
            }
        string? mmio = ls.Interpreted.ReplayMismatch
                       ?? (ls.Interpreted.UnreplayedCount > 0 ? $"{ls.Interpreted.UnreplayedCount} device accesses of the translated run not made by the interpreter" : null);
        if (diffs.Count == 0 && memory.Count == 0 && mmio == null) return;
        string region = ls.DescribeRegion?.Invoke(b, pcBefore) ?? "";
        ls.Report($"lockstep divergence in the region at pc 0x{pcBefore:x} (physical 0x{b.PhysPc:x}), " +
                  $"{count} instructions{(exit == RegionExit.Exception ? ", ending in an exception" : "")} " +
                  $"(check {ls.Checks}, region run {ls.RegionRuns}):\n" + LockstepChecker.Describe(diffs, memory, mmio) + region);
    }

    private ulong* HostWord(ulong pa)
    {
        var m = Bus.FindMemory(pa) ?? throw new InvalidOperationException($"lockstep: 0x{pa:x} is not RAM");
        return (ulong*)(m.Host + (pa - m.Base));
    }

    /// <summary>Takes the exception a translated region exited with on a copy of the state, without
    /// statistics or callbacks (the interpreter's replay takes it for real).</summary>
    private void EnterTrapQuietly(HartState* copy)
    {
        HartState saved = *_state;
        var onException = OnException;
        long exceptions = Stats.Exceptions, pageFaults = Stats.PageFaults;
        OnException = null;
        try
        {
            RaiseException((ExceptionCause)_state->PendingCause, _state->PendingTval);
            *copy = *_state;
        }
        finally
        {
            OnException = onException;
            Stats.Exceptions = exceptions;
            Stats.PageFaults = pageFaults;
            *_state = saved;
            Mmu.UpdateContext();
        }
    }

    /// <summary>Interprets exactly <paramref name="count"/> instructions (blocks cut short where needed),
    /// stopping early at an exception; then, when <paramref name="thenFault"/>, one more instruction (the
    /// one the translated region faulted on).</summary>
    private void InterpretInstructions(ulong count, bool thenFault)
    {
        HartState* s = _state;
        ulong end = s->Retired + count;
        long exceptions = Stats.Exceptions;
        while (s->Retired < end)
        {
            Block? b = FetchBlock(s->Pc);
            if (b == null || Stats.Exceptions != exceptions) return;
            ulong left = end - s->Retired;
            ExecuteBlock(b.Insns.Length <= (int)Math.Min(left, int.MaxValue) ? b : new Block(b.PhysPc, b.Insns[..(int)left]));
            if (Stats.Exceptions != exceptions) return;
        }
        if (!thenFault) return;
        Block? last = FetchBlock(s->Pc);
        if (last != null && Stats.Exceptions == exceptions) ExecuteBlock(new Block(last.PhysPc, last.Insns[..1]));
    }
}
