using System.Text;
using Trapeze.Core.Cpu;
using Trapeze.Core.Isa;

namespace Trapeze.Jit.Fuzz;

/// <summary>One generated program with the inputs it is run on.</summary>
public sealed class FuzzCase
{
    public required ulong Seed { get; init; }
    public required FuzzConfig Config { get; init; }
    public required FuzzProgram Program { get; set; }
    public required List<FuzzVector> Vectors { get; set; }

    /// <summary>The case a seed stands for: program, privilege/paging set-up and <paramref name="vectors"/> inputs.</summary>
    public static FuzzCase FromSeed(ulong seed, int vectors = 4, int items = 0)
    {
        var r = new FuzzRandom(seed);
        var config = FuzzConfig.Random(r);
        int n = items > 0 ? items : r.Next(10) switch { < 5 => r.Next(8, 60), < 9 => r.Next(60, 250), _ => r.Next(250, 700) };
        var program = ProgramGenerator.Generate(r, n, config.SelfModifying);
        var list = new List<FuzzVector>();
        for (int i = 0; i < vectors; i++) list.Add(FuzzVector.Random(r));
        return new FuzzCase { Seed = seed, Config = config, Program = program, Vectors = list };
    }
}

/// <summary>A difference between the interpreter and the translator after the same program.</summary>
public sealed record FuzzDivergence(ulong Seed, int Vector, string FirstDifference, string Report);

/// <summary>
/// Tier 1 against tier 0: runs each program on an interpreting hart and on a hart that translates every
/// block before its first run, from the same state and RAM, and compares the whole architectural hart
/// state and all of RAM (scratch, trap log, page tables' A/D bits) at the end. A divergence is shrunk to
/// a small program that still diverges and reported with its disassembly.
/// </summary>
public sealed unsafe class DifferentialFuzzer : IDisposable
{
    /// <summary>A program that retires this many instructions without ending is abandoned (it cannot be
    /// produced by the generator's structured control flow, but a bug could make one).</summary>
    public const ulong RetireCap = 4_000_000;
    private const int ProgramsPerTranslator = 400;

    private readonly FuzzMachine _interpreter = new(translate: false);
    private readonly FuzzMachine _translated = new(translate: true);
    private readonly FuzzMachine _background = new(translate: true, threshold: 2, synchronous: false);
    private int _sinceRenew;

    /// <summary>Every this many programs, the inputs also run on a hart that translates hot blocks on the
    /// translator's thread, as in production (0: never).</summary>
    public int BackgroundEvery { get; set; } = 4;

    public long Programs, Runs, GeneratedInstructions, RetiredInstructions, TranslatedInstructions, Abandoned;

    /// <summary>Seeds of inputs abandoned at <see cref="RetireCap"/> (the first few), to look into.</summary>
    public List<ulong> AbandonedSeeds { get; } = [];
    private ulong _seed;

    /// <summary>Generates the case of <paramref name="seed"/> and runs it; on a divergence returns the
    /// shrunk report.</summary>
    public FuzzDivergence? RunSeed(ulong seed, int vectors = 4, bool shrink = true)
    {
        var c = FuzzCase.FromSeed(seed, vectors);
        return RunCase(c, shrink);
    }

    public FuzzDivergence? RunCase(FuzzCase c, bool shrink = true)
    {
        if (++_sinceRenew >= ProgramsPerTranslator)
        {
            _sinceRenew = 0;
            _translated.RenewTranslator();
            _background.RenewTranslator();
        }
        Programs++;
        // Both kinds of translated memory access, program by program: leaving the region at a TLB miss
        // (first translations), and calling the MMU in place (translations made again).
        _translated.Translator!.LeaveAtMiss = Programs % 2 == 0;
        _seed = c.Seed;
        _useBackground = BackgroundEvery > 0 && Programs % BackgroundEvery == 0;
        var (code, end) = c.Program.Assemble();
        GeneratedInstructions += c.Program.CountInstructions();
        for (int i = 0; i < c.Vectors.Count; i++)
        {
            var diff = RunOne(c.Config, c.Vectors[i], c.Program, code, end, count: true);
            if (diff == null) continue;
            int before = c.Program.CountInstructions();
            var failing = new FuzzCase { Seed = c.Seed, Config = c.Config, Program = c.Program.Clone(), Vectors = [c.Vectors[i]] };
            if (shrink) Shrink(failing);
            var (shrunkCode, shrunkEnd) = failing.Program.Assemble();
            string first = RunOne(failing.Config, failing.Vectors[0], failing.Program, shrunkCode, shrunkEnd, count: false) ?? diff;
            return new FuzzDivergence(c.Seed, i, first.Split('\n')[0], Report(failing, i, first, before, shrunkCode));
        }
        return null;
    }

    private bool _useBackground;

    /// <summary>Runs one input on the interpreting hart and the translating hart(s); returns a description
    /// of the differences, or null.</summary>
    private string? RunOne(FuzzConfig config, FuzzVector v, FuzzProgram program, byte[] code, ulong end, bool count)
    {
        var image = FuzzImage.Build(config, v, program, code, end);
        _interpreter.Load(image);
        _interpreter.Start(config, v, program.Base);
        bool okI = _interpreter.Run(end, RetireCap);
        string? diff = Compare(_translated, config, v, program, image, end, okI, count);
        if (diff == null && _useBackground)
        {
            diff = Compare(_background, config, v, program, image, end, okI, count: false);
            if (diff != null) diff = "(translated on the translator's thread, threshold 2)\n" + diff;
        }
        return diff;
    }

    private string? Compare(FuzzMachine t, FuzzConfig config, FuzzVector v, FuzzProgram program, byte[] image,
        ulong end, bool okI, bool count)
    {
        t.Load(image);
        t.Start(config, v, program.Base);
        long translatedBefore = t.Hart.Stats.TranslatedInstructions;
        bool okT = t.Run(end, RetireCap);
        if (count)
        {
            Runs++;
            RetiredInstructions += (long)_interpreter.State->Retired;
            TranslatedInstructions += t.Hart.Stats.TranslatedInstructions - translatedBefore;
        }
        if (!okI && !okT)
        {
            if (count)
            {
                Abandoned++;
                lock (AbandonedSeeds)
                    if (AbandonedSeeds.Count < 16 && !AbandonedSeeds.Contains(_seed)) AbandonedSeeds.Add(_seed);
            }
            return null;
        }
        var sb = new StringBuilder();
        if (okI != okT)
            sb.Append($"termination: the {(okI ? "translated" : "interpreted")} hart did not reach the end in {RetireCap} instructions\n");
        foreach (var d in HartStateDiff.Compare(_interpreter.State, t.State))
            sb.Append($"{d.Field}: interpreter 0x{d.Expected:x}, translated 0x{d.Actual:x}\n");
        var a = _interpreter.Memory;
        var b = t.Memory;
        int at = a.CommonPrefixLength(b);
        if (at < a.Length)
        {
            int aligned = at & ~7;
            sb.Append($"memory at 0x{FuzzLayout.RamBase + (ulong)aligned:x}: interpreter 0x{BitConverter.ToUInt64(a[aligned..]):x16}, " +
                      $"translated 0x{BitConverter.ToUInt64(b[aligned..]):x16}\n");
        }
        return sb.Length == 0 ? null : sb.ToString();
    }

    private bool Diverges(FuzzCase c)
    {
        var (code, end) = c.Program.Assemble();
        return RunOne(c.Config, c.Vectors[0], c.Program, code, end, count: false) != null;
    }

    // ------------------------------------------------------------------ shrinking

    private int _trials;

    /// <summary>Delta debugging over the program's items: removes runs of items, unwraps loops, cuts trip
    /// counts and drops single instructions, keeping each change that still diverges.</summary>
    public void Shrink(FuzzCase c, int maxTrials = 3000)
    {
        _trials = maxTrials;
        bool progress = true;
        while (progress && _trials > 0)
        {
            progress = ShrinkList(c, c.Program.Items);
        }
    }

    private bool Try(FuzzCase c)
    {
        _trials--;
        return Diverges(c);
    }

    private bool ShrinkList(FuzzCase c, List<FuzzItem> items)
    {
        bool progress = false;
        for (int chunk = Math.Max(1, items.Count / 2); chunk >= 1 && _trials > 0; chunk /= 2)
        {
            for (int i = 0; i < items.Count && _trials > 0;)
            {
                int n = Math.Min(chunk, items.Count - i);
                var removed = items.GetRange(i, n);
                if (removed.All(x => x is LabelItem)) { i += n; continue; }
                items.RemoveRange(i, n);
                var kept = removed.Where(x => x is LabelItem).ToList();
                items.InsertRange(i, kept);
                if (Try(c)) { progress = true; i += kept.Count; continue; }
                items.RemoveRange(i, kept.Count);
                items.InsertRange(i, removed);
                i += n;
            }
            if (chunk == 1) break;
        }
        for (int i = 0; i < items.Count && _trials > 0; i++)
        {
            switch (items[i])
            {
                case LoopItem loop:
                {
                    items.RemoveAt(i);
                    items.InsertRange(i, loop.Body);
                    if (Try(c)) { progress = true; i--; continue; }
                    items.RemoveRange(i, loop.Body.Count);
                    items.Insert(i, loop);
                    if (loop.Trips > 1)
                    {
                        long trips = loop.Trips;
                        loop.Trips = 1;
                        if (Try(c)) progress = true; else loop.Trips = trips;
                    }
                    progress |= ShrinkList(c, loop.Body);
                    break;
                }
                case PlainItem p when p.Raw.Count > 1:
                    progress |= ShrinkRaw(c, p.Raw);
                    break;
                case AddressItem a when a.Following.Count > 1:
                    progress |= ShrinkRaw(c, a.Following);
                    break;
            }
        }
        return progress;
    }

    private bool ShrinkRaw(FuzzCase c, List<uint> raw)
    {
        bool progress = false;
        for (int i = 0; i < raw.Count && _trials > 0;)
        {
            uint r = raw[i];
            raw.RemoveAt(i);
            if (Try(c)) { progress = true; continue; }
            raw.Insert(i, r);
            i++;
        }
        return progress;
    }

    // ------------------------------------------------------------------ report

    private static string Report(FuzzCase c, int vector, string differences, int instructionsBefore, byte[] code)
    {
        var sb = new StringBuilder();
        sb.Append($"JIT divergence: seed 0x{c.Seed:x} (input {vector}), {c.Config}\n");
        sb.Append(differences);
        var v = c.Vectors[0];
        sb.Append($"program: {c.Program.CountInstructions()} instructions (shrunk from {instructionsBefore}) at 0x{c.Program.Base:x}\n");
        sb.Append(FuzzProgram.Listing(code, c.Program.Base));
        sb.Append("inputs:\n");
        for (int i = 1; i < 32; i++)
            sb.Append($"  {Disassembler.XReg(i),-4} = 0x{v.X[i]:x16}{(i % 4 == 0 ? "\n" : "")}");
        sb.Append('\n');
        for (int i = 0; i < 32; i++)
            sb.Append($"  {Disassembler.FReg(i),-4} = 0x{v.F[i]:x16}{(i % 4 == 3 ? "\n" : "")}");
        sb.Append($"  fflags = 0x{v.Fflags:x}, frm = {v.Frm}, mstatus.FS = {v.Fs >> Mstatus.FsShift}, memory seed 0x{v.MemorySeed:x}\n");
        return sb.ToString();
    }

    public void Dispose()
    {
        _interpreter.Dispose();
        _translated.Dispose();
        _background.Dispose();
    }
}
