using Trapeze.Core.Cpu;
using Trapeze.Core.Isa;
using Trapeze.Jit.Fuzz;
using Xunit.Abstractions;

namespace Trapeze.Jit.Tests;

/// <summary>The short version of the differential fuzzer (the long one is 'trapeze fuzz-jit'): fixed seeds,
/// a few fresh ones each run, and every decode-table entry on its own.</summary>
public sealed class DifferentialFuzzTests(ITestOutputHelper output)
{
    [Fact]
    public void FixedSeedsAgree()
    {
        using var f = new DifferentialFuzzer();
        for (ulong seed = 1; seed <= 48; seed++)
        {
            var d = f.RunSeed(seed, vectors: 2);
            Assert.True(d == null, d?.Report);
        }
        output.WriteLine($"{f.Programs} programs, {f.RetiredInstructions} instructions, {f.TranslatedInstructions} translated");
        Assert.True(f.TranslatedInstructions > f.RetiredInstructions / 2, "most instructions should run translated");
    }

    [Fact]
    public void FreshSeedsAgree()
    {
        ulong first = (ulong)Environment.TickCount64 * 7919;
        output.WriteLine($"first seed {first}");
        using var f = new DifferentialFuzzer();
        for (ulong seed = first; seed < first + 16; seed++)
        {
            var d = f.RunSeed(seed, vectors: 2);
            Assert.True(d == null, $"reproduce with: trapeze fuzz-jit --one {seed}\n{d?.Report}");
        }
    }

    public static TheoryData<int> Entries()
    {
        var data = new TheoryData<int>();
        foreach (int e in ProgramGenerator.InstructionEntries) data.Add(e);
        return data;
    }

    /// <summary>Each instruction (every RV64GC entry but control transfers and sensitive instructions, which
    /// the random programs cover) translated on its own, with edge inputs, in every privilege mode.</summary>
    [Theory]
    [MemberData(nameof(Entries))]
    public void EachInstructionAgrees(int entry)
    {
        using var f = new DifferentialFuzzer();
        var r = new FuzzRandom((ulong)entry * 31 + 5);
        foreach (var config in new[]
                 {
                     new FuzzConfig(Privilege.Machine, false, false, true, false),
                     new FuzzConfig(Privilege.User, true, false, false, true),
                 })
        {
            var vectors = Enumerable.Range(0, 2).Select(_ => FuzzVector.Random(r)).ToList();
            foreach (var v in vectors) v.Fs = Mstatus.FsDirty;
            var c = new FuzzCase { Seed = (ulong)entry, Config = config, Program = ProgramGenerator.ForEntry(r, entry, 16), Vectors = vectors };
            var d = f.RunCase(c);
            Assert.True(d == null, $"{DecodeTable.Entries[entry].Mnemonic}: {d?.Report}");
        }
        Assert.True(f.TranslatedInstructions > 0);
    }
}

public sealed unsafe class SelfModifyingCodeTests
{
    /// <summary>A translated region stores a new instruction over one ahead of it and runs FENCE.I: the
    /// new instruction runs (the region ends at FENCE.I; the page's new code is translated afresh).</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void PatchedInstructionRunsAfterFenceI(bool translate)
    {
        var config = new FuzzConfig(Privilege.Machine, false, false, true, false) { SelfModifying = true };
        // a1 = 3; loop: [patch slot: a0 = 1 -> a0 += 7]; a1 -= 1; bnez a1
        var loop = new LoopItem
        {
            Counter = 11, Trips = 3, BackEdge = 0,
            Body = [new PatchItem(5, 6, Encode.Addi(10, 0, 1), Encode.Addi(10, 10, 7))],
        };
        var program = new FuzzProgram { Base = FuzzLayout.CodeBase + 0x10, Items = [loop] };
        var v = new FuzzVector { Fs = Mstatus.FsDirty };
        var (code, end) = program.Assemble();
        using var m = new FuzzMachine(translate);
        m.Load(FuzzImage.Build(config, v, program, code, end));
        m.Start(config, v, program.Base);
        Assert.True(m.Run(end, 10_000));
        Assert.Equal(21UL, m.State->X[10]);
        if (translate) Assert.True(m.Hart.Stats.TranslatedInstructions > 0);

        using var f = new DifferentialFuzzer();
        var d = f.RunCase(new FuzzCase { Seed = 0, Config = config, Program = program, Vectors = [v] });
        Assert.True(d == null, d?.Report);
    }
}

public sealed class GeneratorTests
{
    /// <summary>The generator's LR/SC sequences really are LR then SC on the same base register (an SC
    /// that can succeed), not other atomics.</summary>
    [Fact]
    public void LrScPairsAreGenerated()
    {
        int pairs = 0;
        for (ulong seed = 1; seed <= 40; seed++)
        {
            var c = FuzzCase.FromSeed(seed, vectors: 1);
            foreach (var a in Flatten(c.Program.Items).OfType<AddressItem>())
            {
                var first = Trapeze.Core.Isa.Decoder.Decode(a.Following[0]);
                var last = Trapeze.Core.Isa.Decoder.Decode(a.Following[^1]);
                if (first.Op is Trapeze.Core.Isa.Op.LrW or Trapeze.Core.Isa.Op.LrD && a.Following.Count > 1)
                {
                    Assert.True(last.Op is Trapeze.Core.Isa.Op.ScW or Trapeze.Core.Isa.Op.ScD, $"seed {seed}: LR followed by {last.Op}");
                    pairs++;
                }
            }
        }
        Assert.True(pairs > 10, $"{pairs} LR/SC pairs in 40 programs");
    }

    private static IEnumerable<FuzzItem> Flatten(List<FuzzItem> items) =>
        items.SelectMany(i => i is LoopItem l ? Flatten(l.Body).Prepend(i) : [i]);
}
