using Trapeze.Core.Cpu;
using Trapeze.Jit.Fuzz;

namespace Trapeze.Jit.Tests;

/// <summary>Calls to a function in the region's page, and their returns, stay inside the region
/// (Region.ReturnSites); a return elsewhere leaves it.</summary>
public sealed unsafe class CallReturnTests : IDisposable
{
    private const ulong Code = FuzzLayout.CodeBase;
    private readonly FuzzMachine _m = new(translate: true, threshold: 100, synchronous: true);

    public void Dispose() => _m.Dispose();

    private HartState* S => _m.State;

    private void Write(ulong pa, uint insn) => _m.WriteInstruction(pa, insn);

    /// <summary>loop: a0 -= 1; call f; bnez a0, loop; wfi — f: a1 += 2; <paramref name="body"/>; ret.</summary>
    private void CallLoop(int iterations, params uint[] body)
    {
        Write(Code + 0x00, Encode.Addi(10, 10, -1));
        Write(Code + 0x04, Encode.Jal(1, 0x40 - 0x04));
        Write(Code + 0x08, Encode.Branch(1, 10, 0, -8));
        Write(Code + 0x0c, Encode.Wfi);
        Write(Code + 0x10, Encode.Wfi);
        ulong at = Code + 0x40;
        Write(at, Encode.Addi(11, 11, 2));
        foreach (uint insn in body) Write(at += 4, insn);
        Write(at + 4, Encode.Jalr(0, 1, 0));
        var v = new FuzzVector();
        v.X[10] = (ulong)iterations;
        v.X[12] = 1000;
        _m.Start(new FuzzConfig(Privilege.Machine, false, false, true, false), v, Code);
        for (int i = 0; i < 50_000 && S->Wfi == 0; i++) _m.Hart.Step(1);
    }

    [Fact]
    public void CallAndReturnRunInsideOneRegion()
    {
        CallLoop(20_000);
        Assert.Equal(0UL, S->X[10]);
        Assert.Equal(40_000UL, S->X[11]);
        Assert.Equal(Code + 0x08, S->X[1]);
        Assert.Equal(Code + 0x10, S->Pc);
        Assert.Equal(5 * 20_000UL + 1, S->Retired);
        var compiled = _m.Hart.Blocks.Find(Code)?.Compiled;
        Assert.NotNull(compiled);
        Assert.Equal([0x00, 0x08, 0x40], compiled.BlockStarts.Order());
        // Without the return inside, every iteration would leave the region at least once.
        Assert.InRange(_m.Hart.Stats.RegionRuns, 1, 200);
    }

    [Fact]
    public void ReturnToAnotherAddressLeavesTheRegion()
    {
        // The 500th call, long after the region was made, returns one instruction further (past the
        // bnez, to the wfi at 0x0c): ra += 4 * (a1 == 1000), without a branch.
        CallLoop(20_000,
            Encode.R(0, 12, 11, 4, 5, 0x33),   // xor t0, a1, a2
            Encode.I(1, 5, 3, 5, 0x13),        // sltiu t0, t0, 1
            Encode.Slli(5, 5, 2),              // slli t0, t0, 2
            Encode.R(0, 5, 1, 0, 1, 0x33));    // add ra, ra, t0
        Assert.True(_m.Hart.Stats.TranslatedInstructions > 1000);
        Assert.Equal(20_000UL - 500, S->X[10]);
        Assert.Equal(1000UL, S->X[11]);
        Assert.Equal(Code + 0x0c, S->X[1]);
        Assert.Equal(Code + 0x10, S->Pc);
        Assert.Equal(9 * 500UL - 1 + 1, S->Retired); // nine a call; the last one's bnez skipped, the wfi retired
    }
}
