using System.Diagnostics;

namespace Trapeze.Jit.Fuzz;

/// <summary>Totals of a fuzz campaign.</summary>
public sealed record FuzzTotals(long Programs, long Runs, long Generated, long Retired, long Translated, long Abandoned,
    int Divergences, TimeSpan Elapsed, IReadOnlyList<ulong> AbandonedSeeds)
{
    public override string ToString() =>
        $"{Programs} programs ({Generated} generated instructions), {Runs} runs, {Retired} instructions retired per tier " +
        $"({Translated} of them by translated code), {Abandoned} abandoned" +
        (AbandonedSeeds.Count > 0 ? $" (seeds {string.Join(", ", AbandonedSeeds)})" : "") +
        $", {Divergences} divergences, {Elapsed.TotalSeconds:F0} s";
}

/// <summary>Runs seeds first..first+n on several threads (one fuzzer, so two harts, per thread) until a
/// number of retired instructions, a number of programs or a time limit is reached.</summary>
public static class FuzzCampaign
{
    public static FuzzTotals Run(ulong firstSeed, long maxPrograms, long maxRetired, TimeSpan maxTime, int threads, int vectors,
        Action<FuzzDivergence> onDivergence, Action<FuzzTotals>? onProgress = null, int maxDivergences = 10)
    {
        var sw = Stopwatch.StartNew();
        long next = 0;
        int divergences = 0;
        var fuzzers = new DifferentialFuzzer[threads];
        var workers = new Thread[threads];
        bool Done() => Volatile.Read(ref divergences) >= maxDivergences || sw.Elapsed >= maxTime
                       || Sum(fuzzers, f => f.RetiredInstructions) >= maxRetired || Volatile.Read(ref next) >= maxPrograms;
        for (int t = 0; t < threads; t++)
        {
            var f = fuzzers[t] = new DifferentialFuzzer();
            workers[t] = new Thread(() =>
            {
                while (!Done())
                {
                    long i = Interlocked.Increment(ref next) - 1;
                    if (i >= maxPrograms) break;
                    var d = f.RunSeed(firstSeed + (ulong)i, vectors);
                    if (d != null)
                    {
                        Interlocked.Increment(ref divergences);
                        lock (onDivergence) onDivergence(d);
                    }
                }
            }, 16 << 20) { IsBackground = true, Name = $"fuzz{t}" };
            workers[t].Start();
        }
        var lastProgress = sw.Elapsed;
        while (workers.Any(w => w.IsAlive))
        {
            workers.First(w => w.IsAlive).Join(500);
            if (onProgress != null && sw.Elapsed - lastProgress >= TimeSpan.FromSeconds(30))
            {
                lastProgress = sw.Elapsed;
                onProgress(Totals(fuzzers, divergences, sw.Elapsed));
            }
        }
        var totals = Totals(fuzzers, divergences, sw.Elapsed);
        foreach (var f in fuzzers) f.Dispose();
        return totals;
    }

    private static long Sum(DifferentialFuzzer?[] fuzzers, Func<DifferentialFuzzer, long> field)
    {
        long n = 0;
        foreach (var f in fuzzers) if (f != null) n += field(f); // a racy read is fine for a stop condition
        return n;
    }

    private static FuzzTotals Totals(DifferentialFuzzer[] f, int divergences, TimeSpan elapsed) => new(
        f.Sum(x => x.Programs), f.Sum(x => x.Runs), f.Sum(x => x.GeneratedInstructions), f.Sum(x => x.RetiredInstructions),
        f.Sum(x => x.TranslatedInstructions), f.Sum(x => x.Abandoned), divergences, elapsed,
        f.SelectMany(x => { lock (x.AbandonedSeeds) return x.AbandonedSeeds.ToArray(); }).Order().Take(16).ToList());
}
