namespace Trapeze.Jit.Tests;

/// <summary>Region formation on hand-assembled pages.</summary>
public sealed unsafe class RegionTests
{
    private const ulong PageBase = 0x8000_4000;

    private static Region? Build(Asm a, int entry)
    {
        fixed (byte* p = a.Page) return Region.Build(p, PageBase + (ulong)entry);
    }

    [Fact]
    public void SensitiveInstructionEndsTheRegionBeforeIt()
    {
        var a = new Asm().At(0x100).Addi(10, 10, 1).Addi(11, 11, 2).Csrr(12, 0x300).Addi(13, 0, 3); // mstatus: not one of the FP CSRs run in place
        var r = Build(a, 0x100)!;
        var b = Assert.Single(r.Blocks.Values);
        Assert.Equal(2, b.Insns.Count);
        Assert.Equal(BlockEnd.Exit, b.End);
        Assert.Equal(0x108, b.Next);
        Assert.Equal(2, r.InstructionCount);
    }

    [Fact]
    public void EntryAtASensitiveInstructionIsNotTranslated()
    {
        var a = new Asm().At(0x40).Ecall();
        Assert.Null(Build(a, 0x40));
    }

    [Fact]
    public void LoopBackEdgeStaysInsideTheRegion()
    {
        // 0x200: addi; addi; bne a0, x0, 0x200; then wfi (sensitive)
        var a = new Asm().At(0x200).Addi(10, 10, -1).Addi(11, 11, 1).Bne(10, 0, -8).Wfi();
        var r = Build(a, 0x200)!;
        Assert.Equal(2, r.Blocks.Count);
        var loop = r.Blocks[0x200];
        Assert.Equal(BlockEnd.Branch, loop.End);
        Assert.Equal(0x200, loop.Target);
        Assert.Equal(0x20c, loop.Next);
        var after = r.Blocks[0x20c];
        Assert.Empty(after.Insns);
        Assert.Equal(BlockEnd.Exit, after.End);
    }

    [Fact]
    public void BranchesOutOfThePageAreNotFollowed()
    {
        var a = new Asm().At(0xf00).Beq(10, 11, 0x200).Addi(10, 10, 1).Jal(0, -0xf10);
        var r = Build(a, 0xf00)!;
        Assert.Equal(2, r.Blocks.Count);
        Assert.Equal(0x1100, r.Blocks[0xf00].Target);
        Assert.False(Region.InPage(r.Blocks[0xf00].Target));
        var jump = r.Blocks[0xf04];
        Assert.Equal(BlockEnd.Jump, jump.End);
        Assert.Equal(-8, jump.Target);
        Assert.False(Region.InPage(jump.Target));
    }

    [Fact]
    public void InstructionStraddlingThePageEndExits()
    {
        // A 32-bit instruction at 0xffe has its second half on the next page.
        var a = new Asm().At(0xff6).Addi(10, 10, 1).Addi(11, 11, 1).I32(Encode32Addi());
        var r = Build(a, 0xff6)!;
        var b = Assert.Single(r.Blocks.Values);
        Assert.Equal(2, b.Insns.Count);
        Assert.Equal(BlockEnd.Exit, b.End);
        Assert.Equal(0xffe, b.Next);
    }

    [Fact]
    public void CompressedInstructionAtThePageEndIsIncluded()
    {
        var a = new Asm().At(0xffa).Addi(10, 10, 1).CNop();
        var r = Build(a, 0xffa)!;
        var b = Assert.Single(r.Blocks.Values);
        Assert.Equal(2, b.Insns.Count);
        Assert.Equal(BlockEnd.Exit, b.End);
        Assert.Equal(0x1000, b.Next);
    }

    [Fact]
    public void IndirectJumpEndsItsBlock()
    {
        var a = new Asm().At(0).Addi(1, 0, 8).Jalr(5, 1, 0).Addi(10, 10, 1);
        var r = Build(a, 0)!;
        var b = Assert.Single(r.Blocks.Values);
        Assert.Equal(BlockEnd.IndirectJump, b.End);
        Assert.Equal(2, b.Insns.Count);
    }

    [Fact]
    public void SizeLimitsHold()
    {
        var a = new Asm();
        for (int i = 0; i < 1000; i++) a.Addi(10, 10, 1);
        var r = Build(a, 0)!;
        Assert.True(r.InstructionCount <= Region.MaxInstructions);
        Assert.All(r.Blocks.Values, b => Assert.True(b.Insns.Count <= Region.MaxBlockInstructions));
        Assert.Equal(BlockEnd.FallThrough, r.Blocks[0].End);
        Assert.Equal(Region.MaxBlockInstructions * 4, r.Blocks[0].Next);
    }

    [Fact]
    public void ForwardBranchJoinsSplitTheTargetBlock()
    {
        // beq to 0x10 (in the middle of a straight run): the run is split there, the region holds both paths.
        var a = new Asm().At(0).Beq(10, 11, 0x10).Addi(12, 12, 1).Addi(12, 12, 1).Addi(12, 12, 1).Addi(13, 13, 1).Ecall();
        var r = Build(a, 0)!;
        Assert.True(r.Blocks.ContainsKey(0x10));
        Assert.True(r.Blocks.ContainsKey(4));
        Assert.Equal(5, r.InstructionCount);
    }

    private static uint Encode32Addi() => Fuzz.Encode.Addi(12, 12, 1);
}
