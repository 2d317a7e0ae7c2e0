using System.Diagnostics;
using Trapeze.Core.Cpu;
using Trapeze.Core.Memory;

namespace Trapeze.Jit;

/// <summary>Translation statistics (the user-facing part of --stats).</summary>
public sealed class TranslatorStatistics
{
    public long Requests, RegionsCompiled, SharedHits, Discarded, Untranslatable, InstructionsCompiled, Failures;

    /// <summary>Regions queued (or compiled) again: hot ones, and ones leaving at TLB misses often.</summary>
    public long Retranslations;
    public long CompileTicks, HostCompileTicks;
    public double CompileMilliseconds => CompileTicks * 1000.0 / Stopwatch.Frequency;
    public double HostCompileMilliseconds => HostCompileTicks * 1000.0 / Stopwatch.Frequency;
}

/// <summary>
/// Tier 1. Blocks the interpreter finds hot are translated on a background thread while the interpreter
/// keeps running them; the translation is installed into the block when done. Translations are shared
/// between harts through a cache keyed by guest-physical address and the page's code generation (the
/// meaning of translated code does not depend on privilege or paging: those are checked at run time
/// through the TLB context), bounded in size.
/// </summary>
public sealed unsafe class Translator : ITranslator, IDisposable
{
    /// <summary>RyuJIT spends about 0.4 ms on a region of ~20 guest instructions (more on a loaded
    /// machine), so only code that runs often pays back its translation, and a lower threshold floods the
    /// compile thread (translations then arrive late and the share of translated instructions falls).
    /// Measured with bench/run.sh (ratios to QEMU, same run) once regions held only the paths that ran and
    /// first translations left at TLB misses: 8000 -> 4000 took the Linux boot to GUEST-READY from 1.23 to
    /// 1.15 and /bench-prog from 1.16 to 1.13, the busybox workload unchanged (0.86 both), for about 7 %
    /// more process CPU time (the compile thread). 2000 and 3000 gained no more wall time on the boot
    /// (4 boots each) and cost 10-25 % more CPU.</summary>
    public const int DefaultThreshold = 4000;
    public const int MaxCachedRegions = 1 << 16;

    private readonly TranslationQueue _queue;
    private readonly Dictionary<(ulong, uint), CompiledRegion> _cache = [];
    private readonly Queue<(ulong, uint)> _order = new();
    private readonly Thread? _thread;

    /// <summary>Creates a translator. <paramref name="threshold"/> 0 translates every block before its
    /// first run. <paramref name="synchronous"/>: compile on the requesting thread at once (deterministic,
    /// for tests and lockstep).</summary>
    public Translator(int threshold = DefaultThreshold, bool synchronous = false)
    {
        Threshold = Math.Max(0, threshold);
        Synchronous = synchronous;
        _queue = new TranslationQueue(Stats);
        if (!synchronous)
        {
            _thread = new Thread(Worker) { IsBackground = true, Name = "jit", Priority = ThreadPriority.BelowNormal };
            _thread.Start();
        }
    }

    public int Threshold { get; }
    public bool Synchronous { get; }
    public TranslatorStatistics Stats { get; } = new();

    /// <summary>Called when a translation fails with an internal error (a bug): the block stays interpreted.</summary>
    public Action<Block, Exception>? OnFailure { get; set; }

    /// <summary>Called on the hart's thread: the region is chosen here, from the hart's execution counts
    /// (see <see cref="Region.ForHotPaths"/>), and compiled later on the compile thread.</summary>
    public void Request(Hart hart, Block block) => Request(hart, block, LeaveAtMiss, remake: false);

    public void Retranslate(Hart hart, Block block)
    {
        if (Request(hart, block, leaveAtMiss: false, remake: true)) Interlocked.Increment(ref Stats.Retranslations);
    }

    /// <summary>First translations leave at TLB misses (see <see cref="CompiledRegion.LeavesAtMiss"/>);
    /// false: every translation calls the MMU in place (the differential fuzzer tries both).</summary>
    public bool LeaveAtMiss { get; set; } = true;

    /// <summary>Returns true when a translation was compiled or queued (false: an equivalent one was
    /// installed from the cache, or there is nothing to translate, or the queue is full).</summary>
    private bool Request(Hart hart, Block block, bool leaveAtMiss, bool remake)
    {
        Interlocked.Increment(ref Stats.Requests);
        if (block.Region == null || !block.IsCurrent) return false;
        if (Shared(block, leaveAtMiss, remake)) return false;
        var region = Region.ForHotPaths(block, hart.Blocks);
        if (region == null) { Interlocked.Increment(ref Stats.Untranslatable); return false; }
        region.LeaveAtMiss = leaveAtMiss;
        region.Remade = remake;
        if (!Synchronous) return _queue.Add(block, region); // full: the block simply stays as it is
        Translate(block, region);
        return true;
    }

    private void Worker()
    {
        while (_queue.Take() is var (block, region))
            Translate(block, region);
    }

    /// <summary>Installs an equivalent translation another hart (or an earlier request) already made: a
    /// translation made again serves every request, a first one only first requests.</summary>
    private bool Shared(Block block, bool leaveAtMiss, bool remake)
    {
        lock (_cache)
        {
            if (!_cache.TryGetValue((block.PhysPc, block.Generation), out var shared)) return false;
            if (shared.LeavesAtMiss && !leaveAtMiss || remake && !shared.Remade) return false;
            Stats.SharedHits++;
            block.Compiled = shared;
            return true;
        }
    }

    /// <summary>Compiles <paramref name="region"/>, chosen for <paramref name="block"/>, and installs it
    /// (or a shared equivalent).</summary>
    private void Translate(Block block, Region region)
    {
        if (!block.IsCurrent || Shared(block, region.LeaveAtMiss, region.Remade)) return;
        var key = (block.PhysPc, block.Generation);
        long t0 = Stopwatch.GetTimestamp();
        try
        {
            var compiled = IlEmitter.Compile(region);
            Interlocked.Add(ref Stats.HostCompileTicks, IlEmitter.LastHostCompileTicks);
            // The bytes were read while the guest ran: keep the result only if no store reached the page.
            if (!block.IsCurrent) { Interlocked.Increment(ref Stats.Discarded); return; }
            lock (_cache)
            {
                if (_cache.TryAdd(key, compiled)) _order.Enqueue(key);
                else _cache[key] = compiled; // a translation made again replaces the first one
                while (_order.Count > MaxCachedRegions) _cache.Remove(_order.Dequeue());
                Stats.RegionsCompiled++;
                Stats.InstructionsCompiled += compiled.InstructionCount;
            }
            block.Compiled = compiled;
        }
        catch (Exception e) when (e is InvalidOperationException or InvalidProgramException or NotSupportedException)
        {
            Interlocked.Increment(ref Stats.Failures);
            OnFailure?.Invoke(block, e);
        }
        finally
        {
            Interlocked.Add(ref Stats.CompileTicks, Stopwatch.GetTimestamp() - t0);
        }
    }

    public void Dispose()
    {
        _queue.Close();
        _thread?.Join();
    }
}
