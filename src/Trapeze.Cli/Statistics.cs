using Trapeze.Machine;

namespace Trapeze.Cli;

/// <summary>The statistics printed by <c>--stats</c>: what each hart executed and why it left the fast path.</summary>
public static class Statistics
{
    public static void Print(VirtMachine machine, TimeSpan elapsed)
    {
        var e = HostStreams.Error;
        e.WriteLine($"\r\n--- trapeze statistics ({elapsed.TotalSeconds:F2} s) ---");
        foreach (var h in machine.Harts)
        {
            unsafe
            {
                ulong retired = h.State->Retired;
                var s = h.Stats;
                e.WriteLine($"hart{h.HartId}: instructions {retired:N0} ({retired / Math.Max(elapsed.TotalSeconds, 1e-9) / 1e6:F1} MIPS), " +
                            $"translated {s.TranslatedInstructions:N0} ({100.0 * s.TranslatedInstructions / Math.Max(retired, 1):F1}%), " +
                            $"interpreted blocks {s.Blocks:N0} (decoded {s.BlocksDecoded:N0}), region runs {s.RegionRuns:N0} (chained {s.ChainedRuns:N0}, left at a TLB miss {s.TlbMissExits:N0})");
                e.WriteLine($"  exits: exceptions {s.Exceptions:N0} (page faults {s.PageFaults:N0}, ecalls {s.Ecalls:N0}), " +
                            $"interrupts {s.Interrupts:N0}, csr {s.CsrAccesses:N0}, mmio {h.Mmu.MmioAccesses:N0}, " +
                            $"wfi {s.WfiSleeps:N0}, sfence.vma {s.SfenceVma:N0}, fence.i {s.FenceI:N0} (cache flushes {s.BlockCacheFlushes:N0}), page walks {h.Mmu.PageWalks:N0}" +
                            (machine.Sbi != null ? $", hypercalls {s.Hypercalls:N0}, remote fences {s.RemoteFences:N0}" : ""));
            }
        }
        if (machine.Translator is { } t)
        {
            var j = t.Stats;
            e.WriteLine($"translator: regions {j.RegionsCompiled:N0} ({j.InstructionsCompiled:N0} instructions, {j.CompileMilliseconds:F0} ms, of which RyuJIT {j.HostCompileMilliseconds:F0} ms), " +
                        $"requests {j.Requests:N0} (regions made again {j.Retranslations:N0}), shared {j.SharedHits:N0}, discarded (code changed) {j.Discarded:N0}, " +
                        $"untranslatable {j.Untranslatable:N0}, failures {j.Failures:N0}");
        }
        if (machine.Sbi is { } sbi)
        {
            e.WriteLine($"sbi: {sbi.Statistics.Total:N0} hypercalls");
            foreach (var (name, count) in sbi.Statistics.NonZero()) e.WriteLine($"  {name,-32} {count,14:N0}");
        }
    }
}
