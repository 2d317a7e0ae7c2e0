using Trapeze.Core.Cpu;
using Trapeze.Core.Isa;
using Trapeze.Jit.Fuzz;

namespace Trapeze.Jit.Tests;

/// <summary>Regions hold the paths the interpreter saw run (Region.ForHotPaths), and the compile queue
/// serves the hottest request first.</summary>
public sealed unsafe class HotPathTests : IDisposable
{
    private const ulong Code = FuzzLayout.CodeBase;
    private readonly FuzzMachine _m = new(translate: true, threshold: 100, synchronous: true);

    public void Dispose() => _m.Dispose();

    private HartState* S => _m.State;

    private void Write(ulong pa, uint insn) => _m.WriteInstruction(pa, insn);

    [Fact]
    public void BranchSuccessorsFollowedOnlyWhereThePredicateSays()
    {
        // 0: beq a0, a1, 0x10 | 4: addi | 8: addi | c: ecall | 10: addi | 14: ecall
        var a = new Asm().At(0).Beq(10, 11, 0x10).Addi(12, 12, 1).Addi(12, 12, 1).Ecall().Addi(13, 13, 1).Ecall();
        fixed (byte* p = a.Page)
        {
            var r = Region.Build(p, 0x8000_4000, offset => offset != 0x10)!;
            Assert.Equal([0, 4], r.Blocks.Keys.Order());
            Assert.Equal(0x10, r.Blocks[0].Target); // still a branch: the taken path leaves the region
            Assert.Equal(BlockEnd.Branch, r.Blocks[0].End);
        }
    }

    /// <summary>A counting loop with a path taken once, late: the region made when the loop turns hot
    /// holds the loop but not that path nor the code after the loop, and the run that takes the path
    /// leaves the region there with exact state.</summary>
    [Fact]
    public void ColdPathsStayOutOfTheRegionAndLeaveItExactly()
    {
        Write(Code + 0x00, Encode.Addi(10, 10, -1));                 // loop: a0 -= 1
        Write(Code + 0x04, Encode.Branch(0, 10, 11, 0x40));          //   beq a0, a1, cold (0x44)
        Write(Code + 0x08, Encode.Branch(1, 10, 0, -8));             //   bne a0, x0, loop
        Write(Code + 0x0c, Encode.Wfi);
        Write(Code + 0x44, Encode.Addi(12, 12, 1));                  // cold: a2 += 1
        Write(Code + 0x48, Encode.Jal(0, 0x08 - 0x48));              //   back into the loop
        var v = new FuzzVector();
        v.X[10] = 5000;
        v.X[11] = 7;
        _m.Start(new FuzzConfig(Privilege.Machine, false, false, true, false), v, Code);
        for (int i = 0; i < 20_000 && S->Wfi == 0; i++) _m.Hart.Step(1);

        Assert.NotEqual(0, S->Wfi);
        Assert.Equal(0UL, S->X[10]);
        Assert.Equal(1UL, S->X[12]);
        var compiled = _m.Hart.Blocks.Find(Code)?.Compiled;
        Assert.NotNull(compiled);
        Assert.Equal([0x000, 0x008], compiled.BlockStarts.Order());
        Assert.True(_m.Hart.Stats.TranslatedInstructions > 10_000);
        // 5000 iterations of three instructions, the cold path's two, and the WFI.
        Assert.Equal(3 * 5000UL + 2 + 1, S->Retired);
    }

    /// <summary>A loop through the dispatcher (an indirect jump back to its head, so every iteration is
    /// one region run) whose other arm comes to dominate only after its region was made: having run
    /// <see cref="Hart.RetranslateAfterRuns"/> times, the region is made again, once, with that arm.</summary>
    [Fact]
    public void HotRegionIsMadeAgainWithThePathsThatCameToDominate()
    {
        const int iterations = 80_000;
        Write(Code + 0x00, Encode.Addi(10, 10, -1));                 // loop: a0 -= 1
        Write(Code + 0x04, Encode.Branch(0, 10, 0, 0x10));           //   beqz a0, done (0x14)
        Write(Code + 0x08, Encode.Branch(4, 10, 11, 0x38));          //   blt a0, a1, late (0x40)
        Write(Code + 0x0c, Encode.Addi(12, 12, 1));                  //   a2 += 1 (the first 1000 iterations)
        Write(Code + 0x10, Encode.Jalr(0, 5, 0));                    //   jr t0 (= loop)
        Write(Code + 0x14, Encode.Wfi);                              // done
        Write(Code + 0x40, Encode.Addi(13, 13, 1));                  // late: a3 += 1
        Write(Code + 0x44, Encode.Jalr(0, 5, 0));                    //   jr t0
        var v = new FuzzVector();
        v.X[5] = Code;
        v.X[10] = iterations;
        v.X[11] = iterations - 1000;
        _m.Start(new FuzzConfig(Privilege.Machine, false, false, true, false), v, Code);
        for (int i = 0; i < 400_000 && S->Wfi == 0; i++) _m.Hart.Step(1);

        Assert.NotEqual(0, S->Wfi);
        Assert.Equal(0UL, S->X[10]);
        Assert.Equal(1000UL, S->X[12]);
        Assert.Equal(iterations - 1001UL, S->X[13]);
        Assert.Equal(5 * (iterations - 1UL) + 2 + 1, S->Retired);
        var compiled = _m.Hart.Blocks.Find(Code)?.Compiled;
        Assert.NotNull(compiled);
        Assert.True(compiled.Remade);
        Assert.Contains(0x40, compiled.BlockStarts);
        Assert.True(_m.Translator!.Stats.Retranslations >= 1);
    }

    private Block MakeBlock(ulong pa, long runs)
    {
        var b = new Block(pa, [Decoder.Decode(Encode.Addi(0, 0, 0))], _m.Ram, _m.Ram.PageOf(pa),
            _m.Ram.CodeGeneration[_m.Ram.PageOf(pa)]) { Executions = runs };
        return b;
    }

    private static Region AnyRegion(ulong pa)
    {
        var page = new Asm().At((int)(pa & 0xfff)).Addi(10, 10, 1).Ecall().Page;
        fixed (byte* p = page) return Region.Build(p, pa)!;
    }

    [Fact]
    public void QueueServesTheHottestRequestAndDropsStaleOnes()
    {
        var stats = new TranslatorStatistics();
        var q = new TranslationQueue(stats);
        var warm = MakeBlock(Code, 9000);
        var hot = MakeBlock(Code + 0x100, 20_000);
        var stale = MakeBlock(Code + 0x1000, 50_000);
        Assert.True(q.Add(warm, AnyRegion(warm.PhysPc)));
        Assert.True(q.Add(stale, AnyRegion(stale.PhysPc)));
        Assert.True(q.Add(hot, AnyRegion(hot.PhysPc)));
        _m.Ram.InvalidateCode(_m.Ram.PageOf(stale.PhysPc)); // a store reached its page while it waited

        Assert.Same(hot, q.Take(wait: false)?.Block);
        warm.Executions = 30_000; // counts go on while waiting
        var next = MakeBlock(Code + 0x200, 25_000);
        q.Add(next, AnyRegion(next.PhysPc));
        Assert.Same(warm, q.Take(wait: false)?.Block);
        Assert.Same(next, q.Take(wait: false)?.Block);
        Assert.Null(q.Take(wait: false));
        Assert.Equal(1, stats.Discarded);
    }

    [Fact]
    public void ClosingTheQueueEndsAWaitingTake()
    {
        var q = new TranslationQueue();
        (Block, Region)? taken = (MakeBlock(Code, 1), AnyRegion(Code));
        var taker = new Thread(() => taken = q.Take());
        taker.Start();
        Thread.Sleep(50);
        q.Close();
        Assert.True(taker.Join(TimeSpan.FromSeconds(10)));
        Assert.Null(taken);
        Assert.False(q.Add(MakeBlock(Code, 1), AnyRegion(Code)));
    }
}
