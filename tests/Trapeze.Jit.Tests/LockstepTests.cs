using Trapeze.Core.Cpu;
using Trapeze.Core.Memory;
using Trapeze.Jit.Fuzz;

namespace Trapeze.Jit.Tests;

/// <summary>Lockstep checking on a hart: agreement on random programs, a wrong translation caught, and
/// devices seeing each access once.</summary>
public sealed unsafe class LockstepTests
{
    private const ulong Code = FuzzLayout.CodeBase;

    [Fact]
    public void RandomProgramsAgreeUnderLockstep()
    {
        using var m = new FuzzMachine(translate: true);
        var ls = new LockstepChecker(1);
        m.Hart.Lockstep = ls;
        for (ulong seed = 200; seed < 230; seed++)
        {
            var c = FuzzCase.FromSeed(seed, vectors: 1);
            var (code, end) = c.Program.Assemble();
            m.Load(FuzzImage.Build(c.Config, c.Vectors[0], c.Program, code, end));
            m.Start(c.Config, c.Vectors[0], c.Program.Base);
            m.Run(end, DifferentialFuzzer.RetireCap);
            Assert.True(ls.Divergence == null, $"seed {seed}: {ls.Divergence}");
        }
        Assert.True(ls.Checks > 100, ls.Summary);
    }

    /// <summary>Installs a translation that gets addi wrong.</summary>
    private sealed class WrongTranslator : ITranslator
    {
        public int Threshold => 0;
        public void Request(Hart hart, Block block) =>
            block.Compiled = new CompiledRegion(Wrong, [], 1, [(int)(block.PhysPc & 0xfff)]);

        public void Retranslate(Hart hart, Block block) { }

        private static RegionExit Wrong(HartState* s, Hart h, Trapeze.Core.Isa.DecodedInsn[] insns)
        {
            s->X[10] += 2;
            s->Pc += 4;
            s->Retired++;
            return RegionExit.Continue;
        }
    }

    [Fact]
    public void WrongTranslationIsReportedWithTheRegion()
    {
        using var m = new FuzzMachine(translate: false);
        var a = new Asm().Addi(10, 10, 1).Ecall();
        a.Page.CopyTo(m.Ram.AsSpan(Code - FuzzLayout.RamBase, 4096));
        m.Ram.InvalidateCode(m.Ram.PageOf(Code));
        m.Start(new FuzzConfig(Privilege.Machine, false, false, true, false), new FuzzVector(), Code);
        string? reported = null;
        var ls = new LockstepChecker(1) { OnDivergence = r => reported = r, DescribeRegion = RegionListing.Describe };
        m.Hart.Lockstep = ls;
        m.Hart.Translator = new WrongTranslator();
        m.Hart.Step(1);
        Assert.NotNull(reported);
        Assert.Contains("x10: interpreter 0x1, translated 0x2", reported);
        Assert.Contains("addi a0, a0, 1", reported);
        // The interpreter's result is the one kept.
        Assert.Equal(1UL, m.State->X[10]);
    }

    private sealed class Counter : IMmioDevice
    {
        public int Reads, Writes;
        public ulong LastWrite;
        public string Name => "counter";
        public ulong Size => 0x1000;
        public bool Read(ulong offset, int size, out ulong value) { value = (ulong)++Reads * 10; return true; }
        public bool Write(ulong offset, int size, ulong value) { Writes++; LastWrite = value; return true; }
    }

    [Fact]
    public void DevicesSeeEachAccessOnceAndReadsAreReplayed()
    {
        using var m = new FuzzMachine(translate: true);
        var dev = new Counter();
        m.Bus.AddDevice(0x1000_0000, dev);
        // t0 = device; a1 = 3; loop: lw t1, 0(t0); add a0, a0, t1; sw a0, 4(t0); a1 -= 1; bnez a1, loop; ecall
        var a = new Asm().I32(Encode.Lui(5, 0x10000)).Addi(11, 0, 3)
            .Lw(6, 5, 0).I32(Encode.R(0, 6, 10, 0, 10, 0x33)).I32(Encode.R(0, 10, 5, 2, 4, 0x23))
            .Addi(11, 11, -1).Bne(11, 0, -16).Ecall();
        a.Page.CopyTo(m.Ram.AsSpan(Code - FuzzLayout.RamBase, 4096));
        m.Ram.InvalidateCode(m.Ram.PageOf(Code));
        m.Start(new FuzzConfig(Privilege.Machine, false, false, true, false), new FuzzVector(), Code);
        var ls = new LockstepChecker(1);
        m.Hart.Lockstep = ls;
        for (int i = 0; i < 8 && m.State->Pc != Code + 28; i++) m.Hart.Step(1);
        Assert.Null(ls.Divergence);
        Assert.True(ls.Checks >= 1);
        Assert.Equal(3, dev.Reads);
        Assert.Equal(3, dev.Writes);
        Assert.Equal(60UL, m.State->X[10]);
        Assert.Equal(60UL, dev.LastWrite);
    }
}
