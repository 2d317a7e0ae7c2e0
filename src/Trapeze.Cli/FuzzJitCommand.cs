using Trapeze.Jit.Fuzz;

namespace Trapeze.Cli;

/// <summary><c>trapeze fuzz-jit</c>: the differential fuzzer of the translator against the interpreter
/// (a diagnostic command: it runs no guest).</summary>
public static class FuzzJitCommand
{
    public const string Help = """
        usage: trapeze fuzz-jit [options]

        Runs random RV64GC programs on an interpreting hart and on a hart that translates every block,
        from the same state, and compares the whole hart state and RAM after each. A divergence is shrunk
        and printed with the program's disassembly.

          --seed N           first seed (default: random); seed N, N+1, ... are run
          --programs N       stop after N programs
          --instructions N   stop after N instructions retired per tier (e.g. 1e8)
          --seconds N        stop after N seconds (default 60 unless --programs/--instructions)
          --threads N        worker threads (default: processor count)
          --vectors N        inputs run per program (default 4)
          --one SEED         run one seed and print its program and result

        Exit code: 0 without divergence, 1 with.
        """;

    public static int Execute(string[] args)
    {
        var a = new ArgReader("fuzz-jit", args, ["seed", "programs", "instructions", "seconds", "threads", "vectors", "one"], ["help"]);
        if (a.Flag("help")) { HostStreams.Out.Write(Help); return 0; }
        int vectors = a.Value("vectors") is { } vs ? ArgReader.ParseInt("vectors", vs, 1, 1000) : 4;
        if (a.Value("one") is { } one) return RunOne(ParseU64("one", one), vectors);
        ulong seed = a.Value("seed") is { } s ? ParseU64("seed", s) : (ulong)Random.Shared.NextInt64() & 0xffff_ffff;
        long programs = a.Value("programs") is { } p ? (long)ParseU64("programs", p) : long.MaxValue;
        long instructions = a.Value("instructions") is { } n ? (long)ParseU64("instructions", n) : long.MaxValue;
        double seconds = a.Value("seconds") is { } sec ? ParseU64("seconds", sec)
            : programs == long.MaxValue && instructions == long.MaxValue ? 60 : double.MaxValue / 4;
        int threads = a.Value("threads") is { } t ? ArgReader.ParseInt("threads", t, 1, 256) : Environment.ProcessorCount;
        Console.WriteLine($"fuzz-jit: first seed {seed}, {threads} threads, {vectors} inputs per program");
        var totals = FuzzCampaign.Run(seed, programs, instructions, TimeSpan.FromSeconds(Math.Min(seconds, 1e9)), threads, vectors,
            d => Console.WriteLine(d.Report),
            p => Console.WriteLine($"fuzz-jit: {p}"));
        Console.WriteLine($"fuzz-jit: {totals}");
        return totals.Divergences == 0 ? 0 : 1;
    }

    private static int RunOne(ulong seed, int vectors)
    {
        var c = FuzzCase.FromSeed(seed, vectors);
        var (code, _) = c.Program.Assemble();
        Console.WriteLine($"seed {seed}: {c.Config}, {c.Program.CountInstructions()} instructions at 0x{c.Program.Base:x}");
        Console.Write(FuzzProgram.Listing(code, c.Program.Base, int.MaxValue));
        using var f = new DifferentialFuzzer();
        var d = f.RunCase(c);
        Console.WriteLine(d?.Report ?? $"no divergence; {f.RetiredInstructions} instructions retired, {f.TranslatedInstructions} translated, {f.Abandoned} inputs abandoned");
        if (f.Abandoned > 0) ShowWhereItLoops(c);
        return d == null ? 0 : 1;
    }

    /// <summary>For a program that does not end: where the interpreter is after the cap, and how often it
    /// passed each pc over the last stretch.</summary>
    private static unsafe void ShowWhereItLoops(FuzzCase c)
    {
        var (code, end) = c.Program.Assemble();
        using var m = new FuzzMachine(translate: false);
        var v = c.Vectors[0];
        m.Load(FuzzImage.Build(c.Config, v, c.Program, code, end));
        m.Start(c.Config, v, c.Program.Base);
        m.Run(end, DifferentialFuzzer.RetireCap);
        var seen = new Dictionary<ulong, int>();
        for (int i = 0; i < 20000; i++)
        {
            m.Hart.Step(1);
            ulong pc = m.State->Pc;
            seen[pc] = seen.GetValueOrDefault(pc) + 1;
        }
        Console.WriteLine($"input 0 after {m.State->Retired} instructions: block entries over 20000 more blocks:");
        foreach (var (pc, n) in seen.OrderBy(kv => kv.Key)) Console.WriteLine($"  0x{pc:x}: {n}");
        Console.WriteLine($"  x1..x31: {string.Join(' ', Enumerable.Range(1, 31).Select(r => $"{m.State->X[r]:x}"))}");
    }

    private static ulong ParseU64(string name, string text)
    {
        if (double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double d)
            && d >= 0 && d < 1.8e19 && d == Math.Floor(d))
            return (ulong)d;
        if (text.StartsWith("0x") && ulong.TryParse(text[2..], System.Globalization.NumberStyles.HexNumber, null, out ulong h)) return h;
        throw new UsageException($"--{name}: '{text}' is not a non-negative number");
    }
}
