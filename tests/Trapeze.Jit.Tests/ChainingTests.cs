using Trapeze.Core.Cpu;
using Trapeze.Core.Memory;
using Trapeze.Jit.Fuzz;

namespace Trapeze.Jit.Tests;

/// <summary>Translated regions that run one after another without the dispatcher (Hart.RunTranslated).</summary>
public sealed unsafe class ChainingTests : IDisposable
{
    private const ulong Code = FuzzLayout.CodeBase;
    private const ulong Other = FuzzLayout.CodeBase + 0x1000;
    private readonly FuzzMachine _m = new(translate: true);

    public void Dispose() => _m.Dispose();

    private HartState* S => _m.State;

    private void Write(ulong pa, uint insn) => _m.WriteInstruction(pa, insn);

    /// <summary>Two regions on two pages jumping to each other: a0 counts runs of the first, a1 of the second.</summary>
    private void PingPong(uint first)
    {
        Write(Code, first);
        Write(Code + 4, Encode.Addi(10, 10, 1));
        Write(Code + 8, Encode.Jal(0, (long)(Other - (Code + 8))));
        Write(Other, Encode.Addi(11, 11, 1));
        Write(Other + 4, Encode.Jal(0, (long)Code - (long)(Other + 4)));
        Write(Code + 0x800, Encode.Wfi);
        _m.Start(new FuzzConfig(Privilege.Machine, false, false, true, false), new FuzzVector(), Code);
    }

    [Fact]
    public void ChainedRunsFollowCodeChangedSinceTheyWereLinked()
    {
        PingPong(Encode.Addi(0, 0, 0));
        for (int i = 0; i < 8; i++) _m.Hart.Step(1);
        Assert.True(_m.Hart.Stats.ChainedRuns > 0);
        Assert.InRange(S->X[10] - S->X[11], 0UL, 1UL);

        // The second region's code changes (as a store from elsewhere would change it): chained runs
        // must not enter its old translation.
        Write(Other, Encode.Addi(11, 11, 100));
        ulong a1 = S->X[11];
        long chained = _m.Hart.Stats.ChainedRuns;
        for (int i = 0; i < 8; i++) _m.Hart.Step(1);
        ulong added = S->X[11] - a1;
        Assert.True(added > 0);
        Assert.Equal(0UL, added % 100);
        Assert.True(_m.Hart.Stats.ChainedRuns > chained);
    }

    /// <summary>A device whose <c>n</c>-th read raises the hart's machine software interrupt.</summary>
    private sealed class Doorbell(Hart hart, int n) : IMmioDevice
    {
        public int Reads;
        public string Name => "doorbell";
        public ulong Size => 0x1000;
        public bool Read(ulong offset, int size, out ulong value)
        {
            if (++Reads == n) hart.SetMachineSoftwareInterrupt(true);
            value = 0;
            return true;
        }
        public bool Write(ulong offset, int size, ulong value) => true;
    }

    [Fact]
    public void ChainStopsAtTheRegionExitAfterAnInterruptBecomesPending()
    {
        var bell = new Doorbell(_m.Hart, 5);
        _m.Bus.AddDevice(0x1000_0000, bell);
        // first region: lw t1, 0(t0) with t0 = the doorbell; a0 += 1; jump to the second
        PingPong(Encode.I(0, 5, 2, 6, 0x03));
        S->X[5] = 0x1000_0000;
        S->Mie = Interrupt.Msip;
        S->Mstatus |= Mstatus.Mie;
        S->Mtvec = Code + 0x800;
        for (int i = 0; i < 32 && S->Mcause == 0; i++) _m.Hart.Step(1);
        Assert.True(_m.Hart.Stats.ChainedRuns > 0);
        Assert.Equal(1UL << 63 | Interrupt.MachineSoftware, S->Mcause);
        // Taken at the first region's exit after the fifth read, before the second region runs again.
        Assert.Equal(5UL, S->X[10]);
        Assert.Equal(4UL, S->X[11]);
        Assert.Equal(Other, S->Mepc);
    }
}
