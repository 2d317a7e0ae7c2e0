using Trapeze.Core.Cpu;
using Trapeze.Core.Memory;
using Trapeze.Jit.Fuzz;

namespace Trapeze.Jit.Tests;

/// <summary>Translated regions run directly on a hart: exits leave exact pc and retired counts.</summary>
public sealed unsafe class IlEmitterTests : IDisposable
{
    private const ulong Code = FuzzLayout.CodeBase;
    private readonly FuzzMachine _m = new(translate: false);

    public void Dispose() => _m.Dispose();

    private HartState* S => _m.State;

    private CompiledRegion Prepare(Asm a, int entry)
    {
        a.Page.CopyTo(_m.Ram.AsSpan(Code - FuzzLayout.RamBase, 4096));
        _m.Ram.InvalidateCode(_m.Ram.PageOf(Code));
        var v = new FuzzVector { Fs = Mstatus.FsDirty };
        _m.Start(new FuzzConfig(Privilege.Machine, false, false, true, false), v, Code + (ulong)entry);
        Region region;
        fixed (byte* p = a.Page) region = Region.Build(p, Code + (ulong)entry)!;
        return IlEmitter.Compile(region);
    }

    private RegionExit Run(CompiledRegion c) => c.Function(S, _m.Hart, c.Insns);

    [Fact]
    public void FaultInTheMiddleLeavesPcAndRetiredAtTheFaultingInstruction()
    {
        var a = new Asm().Addi(10, 10, 1).Addi(10, 10, 1).Ld(11, 0, 0x10).Addi(10, 10, 1);
        var c = Prepare(a, 0);
        Assert.Equal(RegionExit.Exception, Run(c));
        Assert.Equal(Code + 8, S->Pc);
        Assert.Equal(2UL, S->Retired);
        Assert.Equal(2UL, S->X[10]);
        Assert.Equal((byte)ExceptionCause.LoadAccessFault, S->PendingCause);
        Assert.Equal(0x10UL, S->PendingTval);
    }

    [Fact]
    public void FaultAfterALoopIterationCountsEveryRetiredInstruction()
    {
        // a0 = 3; loop: a0 -= 1; bne a0, x0, loop; then a store to address 0 faults.
        var a = new Asm().Addi(10, 0, 3).Addi(10, 10, -1).Bne(10, 0, -4).I32(Encode.R(0, 10, 0, 3, 0, 0x23));
        var c = Prepare(a, 0);
        Assert.Equal(RegionExit.Exception, Run(c));
        Assert.Equal(Code + 12, S->Pc);
        Assert.Equal(1UL + 3 * 2, S->Retired);
        Assert.Equal((byte)ExceptionCause.StoreAccessFault, S->PendingCause);
    }

    [Fact]
    public void ExitAtASensitiveInstructionStopsBeforeIt()
    {
        var a = new Asm().Addi(10, 10, 5).Jal(1, 8).Addi(10, 10, 100).Addi(11, 0, 7).Ecall();
        var c = Prepare(a, 0);
        Assert.Equal(RegionExit.Continue, Run(c));
        Assert.Equal(Code + 16, S->Pc);
        Assert.Equal(3UL, S->Retired);
        Assert.Equal(5UL, S->X[10]);
        Assert.Equal(7UL, S->X[11]);
        Assert.Equal(Code + 8, S->X[1]);
    }

    [Fact]
    public void IndirectJumpLeavesWithTheComputedTarget()
    {
        var a = new Asm().Addi(5, 0, 0x123).Jalr(5, 5, 0x10);
        var c = Prepare(a, 0);
        Assert.Equal(RegionExit.Continue, Run(c));
        Assert.Equal(0x132UL, S->Pc);
        Assert.Equal(Code + 8, S->X[5]);
        Assert.Equal(2UL, S->Retired);
    }

    [Fact]
    public void BackEdgeLeavesAtOnceWhenAnInterruptIsPending()
    {
        // loop: a0 += 1; j loop
        var a = new Asm().Addi(10, 10, 1).Jal(0, -4);
        var c = Prepare(a, 0);
        S->Mie = Interrupt.Msip;
        S->Mip = Interrupt.Msip;
        Assert.Equal(RegionExit.Continue, Run(c));
        Assert.Equal(1UL, S->X[10]);
        Assert.Equal(Code, S->Pc);
        Assert.Equal(2UL, S->Retired);
    }

    [Fact]
    public void BackEdgeBudgetBoundsOneRun()
    {
        var a = new Asm().Addi(10, 10, 1).Jal(0, -4);
        var c = Prepare(a, 0);
        Assert.Equal(RegionExit.Continue, Run(c));
        Assert.Equal((ulong)IlEmitter.BackEdgeBudget, S->X[10]);
        Assert.Equal(Code, S->Pc);
        Assert.Equal(2UL * IlEmitter.BackEdgeBudget, S->Retired);
    }

    /// <summary>A device whose first read raises the hart's machine software interrupt: the interrupt
    /// becomes pending in the middle of a translated loop.</summary>
    private sealed class Doorbell(Hart hart) : IMmioDevice
    {
        public int Reads;
        public string Name => "doorbell";
        public ulong Size => 0x1000;
        public bool Read(ulong offset, int size, out ulong value)
        {
            if (Reads++ == 0) hart.SetMachineSoftwareInterrupt(true);
            value = 0;
            return true;
        }
        public bool Write(ulong offset, int size, ulong value) => true;
    }

    [Fact]
    public void InterruptRaisedInsideATranslatedLoopIsTakenAfterOneIteration()
    {
        var bell = new Doorbell(_m.Hart);
        _m.Bus.AddDevice(0x1000_0000, bell);
        // t0 = 0x1000_0000; loop: lw t1, 0(t0); a0 += 1; j loop
        var a = new Asm().I32(Encode.Lui(5, 0x10000)).Lw(6, 5, 0).Addi(10, 10, 1).Jal(0, -8);
        a.At(0x800).Wfi();
        a.Page.CopyTo(_m.Ram.AsSpan(Code - FuzzLayout.RamBase, 4096));
        _m.Ram.InvalidateCode(_m.Ram.PageOf(Code));
        _m.Start(new FuzzConfig(Privilege.Machine, false, false, true, false), new FuzzVector(), Code);
        _m.Hart.Translator = new Translator(threshold: 0, synchronous: true);
        S->Mie = Interrupt.Msip;
        S->Mstatus |= Mstatus.Mie;
        S->Mtvec = Code + 0x800;
        for (int i = 0; i < 4 && S->Mcause == 0; i++) _m.Hart.Step(1);
        Assert.Equal(1UL << 63 | Interrupt.MachineSoftware, S->Mcause);
        // The jump into the loop from its first block is a forward edge in the region's block order, so
        // the check comes at the latest one iteration later.
        Assert.InRange(S->X[10], 1UL, 2UL);
        Assert.Equal(Code + 4, S->Mepc);
        Assert.InRange(bell.Reads, 1, 2);
        Assert.True(_m.Hart.Stats.TranslatedInstructions > 0);
    }
}

/// <summary>The TLB probe that translated loads and stores run inline, against the out-of-line MMU path.</summary>
public sealed unsafe class InlineTlbTests : IDisposable
{
    private const ulong Code = FuzzLayout.CodeBase;
    private const ulong Data = FuzzLayout.ScratchBase + 0x100;
    private readonly FuzzMachine _m = new(translate: false);
    private readonly ulong* _decoy = (ulong*)System.Runtime.InteropServices.NativeMemory.AllocZeroed(4096);

    public void Dispose()
    {
        System.Runtime.InteropServices.NativeMemory.Free(_decoy);
        _m.Dispose();
    }

    private HartState* S => _m.State;

    private static uint Sd(int rs2, int rs1, int imm) => Encode.R((uint)(imm >> 5), rs2, rs1, 3, imm & 31, 0x23);

    private CompiledRegion Prepare(Asm a)
    {
        a.Page.CopyTo(_m.Ram.AsSpan(Code - FuzzLayout.RamBase, 4096));
        _m.Ram.InvalidateCode(_m.Ram.PageOf(Code));
        _m.Start(new FuzzConfig(Privilege.Machine, false, false, true, false), new FuzzVector { Fs = Mstatus.FsDirty }, Code);
        Region region;
        fixed (byte* p = a.Page) region = Region.Build(p, Code)!;
        return IlEmitter.Compile(region);
    }

    private RegionExit Run(CompiledRegion c)
    {
        S->Pc = Code;
        return c.Function(S, _m.Hart, c.Insns);
    }

    private ref Trapeze.Core.Mmu.TlbEntry ReadEntry(ulong va) => ref S->ReadTlb[(va >> 12) & (Trapeze.Core.Mmu.SoftMmu.TlbSize - 1)];

    private void WriteRam(ulong pa, ulong v) =>
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(_m.Ram.AsSpan(pa - FuzzLayout.RamBase, 8), v);

    /// <summary>A load whose entry is cached reads through the entry's addend: pointing the addend at a
    /// decoy page shows that the hit path ran without the MMU.</summary>
    [Fact]
    public void HitReadsThroughTheEntrysAddend()
    {
        // a1 = 0(a0)
        var c = Prepare(new Asm().Ld(11, 10, 0).Ecall());
        WriteRam(Data, 0x1111);
        S->X[10] = Data;
        Assert.Equal(RegionExit.Continue, Run(c)); // the miss fills the TLB
        Assert.Equal(0x1111UL, S->X[11]);
        ref var e = ref ReadEntry(Data);
        Assert.Equal(Data & Trapeze.Core.Mmu.SoftMmu.PageMask, e.Tag);
        _decoy[(Data & 0xfff) / 8] = 0x2222;
        e.Addend = (nint)_decoy - unchecked((nint)(Data & Trapeze.Core.Mmu.SoftMmu.PageMask));
        Assert.Equal(RegionExit.Continue, Run(c));
        Assert.Equal(0x2222UL, S->X[11]);
    }

    /// <summary>An entry marked SlowOnly (a device or watched page) is never used by the inline path, nor
    /// one made in another translation context.</summary>
    [Fact]
    public void SlowOnlyAndOtherContextEntriesTakeTheMmuPath()
    {
        var c = Prepare(new Asm().Ld(11, 10, 0).Ecall());
        WriteRam(Data, 0x1111);
        S->X[10] = Data;
        Run(c);
        ref var e = ref ReadEntry(Data);
        _decoy[(Data & 0xfff) / 8] = 0x2222;
        e.Addend = (nint)_decoy - unchecked((nint)(Data & Trapeze.Core.Mmu.SoftMmu.PageMask));
        e.Tag |= Trapeze.Core.Mmu.TlbEntry.SlowOnly;
        S->X[11] = 0;
        Assert.Equal(RegionExit.Continue, Run(c));
        Assert.Equal(0x1111UL, S->X[11]);

        e.Tag &= ~Trapeze.Core.Mmu.TlbEntry.SlowOnly;
        e.Ctx ^= 1UL << 20;
        S->X[11] = 0;
        Assert.Equal(RegionExit.Continue, Run(c));
        Assert.Equal(0x1111UL, S->X[11]);
    }

    /// <summary>Misaligned loads and stores, within a page and across one, never hit: the MMU splits them.</summary>
    [Fact]
    public void MisalignedAccessesAcrossAPageAreExact()
    {
        ulong at = FuzzLayout.ScratchBase + 0xffd;
        // sd a2, 0(a0); ld a1, 0(a0); lw a3, 1(a0)
        var c = Prepare(new Asm().I32(Sd(12, 10, 0)).Ld(11, 10, 0).Lw(13, 10, 1).Ecall());
        S->X[10] = at;
        S->X[12] = 0x8877_6655_4433_2211;
        Assert.Equal(RegionExit.Continue, Run(c));
        Assert.Equal(0x8877_6655_4433_2211UL, S->X[11]);
        Assert.Equal(0x5544_3322UL, S->X[13]);
        Assert.Equal(0x33, _m.Ram.AsSpan(at + 2 - FuzzLayout.RamBase, 1)[0]);
        Assert.Equal(0x88, _m.Ram.AsSpan(at + 7 - FuzzLayout.RamBase, 1)[0]);
    }

    /// <summary>A store to a page holding code goes out of line and makes its translations stale, even
    /// when a fast write entry for the page existed before the page was marked.</summary>
    [Fact]
    public void StoreToACodePageInvalidatesItsCode()
    {
        ulong target = FuzzLayout.ScratchBase + 0x1000; // a data page that comes to hold code
        var c = Prepare(new Asm().I32(Sd(12, 10, 0)).Ecall());
        S->X[10] = target;
        S->X[12] = 5;
        Assert.Equal(RegionExit.Continue, Run(c));
        ref var e = ref S->WriteTlb[(target >> 12) & (Trapeze.Core.Mmu.SoftMmu.TlbSize - 1)];
        Assert.Equal(target, e.Tag); // a fast write entry for the page
        ulong page = _m.Ram.PageOf(target);
        _m.Hart.Mmu.MarkCode(_m.Ram, target);
        uint generation = _m.Ram.CodeGeneration[page];
        S->X[12] = 6;
        Assert.Equal(RegionExit.Continue, Run(c));
        Assert.NotEqual(generation, _m.Ram.CodeGeneration[page]);
        Assert.Equal(6, _m.Ram.AsSpan(target - FuzzLayout.RamBase, 1)[0]);
    }

    /// <summary>A store that faults leaves the exact trap state: pc at the store, nothing retired after it.</summary>
    [Fact]
    public void FaultingStoreLeavesPcAtTheStore()
    {
        var c = Prepare(new Asm().Addi(11, 11, 1).I32(Sd(12, 10, 8)).Addi(11, 11, 1).Ecall());
        S->X[10] = 0x10;
        Assert.Equal(RegionExit.Exception, Run(c));
        Assert.Equal(Code + 4, S->Pc);
        Assert.Equal(1UL, S->X[11]);
        Assert.Equal((byte)ExceptionCause.StoreAccessFault, S->PendingCause);
        Assert.Equal(0x18UL, S->PendingTval);
    }
}

/// <summary>F and D instructions emitted in IL: the checks the interpreter makes first, and flag accrual.</summary>
public sealed unsafe class FloatEmitterTests : IDisposable
{
    private const ulong Code = FuzzLayout.CodeBase;
    private readonly FuzzMachine _m = new(translate: false);

    public void Dispose() => _m.Dispose();

    private HartState* S => _m.State;

    private static uint FaddD(int rd, int rs1, int rs2, uint rm) => Encode.R(0b0000001, rs2, rs1, rm, rd, 0x53);
    private static uint FdivD(int rd, int rs1, int rs2, uint rm) => Encode.R(0b0001101, rs2, rs1, rm, rd, 0x53);

    private RegionExit Run(Asm a, ulong fs, byte frm)
    {
        a.Page.CopyTo(_m.Ram.AsSpan(Code - FuzzLayout.RamBase, 4096));
        _m.Ram.InvalidateCode(_m.Ram.PageOf(Code));
        _m.Start(new FuzzConfig(Privilege.Machine, false, false, true, false), new FuzzVector { Fs = fs, Frm = frm }, Code);
        Region region;
        fixed (byte* p = a.Page) region = Region.Build(p, Code)!;
        var c = IlEmitter.Compile(region);
        S->F[1] = BitConverter.DoubleToUInt64Bits(1.0);
        S->F[2] = BitConverter.DoubleToUInt64Bits(3.0);
        return c.Function(S, _m.Hart, c.Insns);
    }

    [Fact]
    public void FsOffMakesTheFirstFloatInstructionIllegal()
    {
        var exit = Run(new Asm().Addi(10, 10, 1).I32(FaddD(3, 1, 2, 0)).Addi(10, 10, 1).Ecall(), Mstatus.FsOff, 0);
        Assert.Equal(RegionExit.Exception, exit);
        Assert.Equal(Code + 4, S->Pc);
        Assert.Equal(1UL, S->Retired);
        Assert.Equal((byte)ExceptionCause.IllegalInstruction, S->PendingCause);
        Assert.Equal(0UL, S->F[3]);
    }

    [Fact]
    public void ReservedDynamicRoundingModeIsIllegal()
    {
        var exit = Run(new Asm().I32(FaddD(3, 1, 2, 0)).I32(FaddD(4, 1, 2, 7)).Ecall(), Mstatus.FsDirty, 5);
        Assert.Equal(RegionExit.Exception, exit);
        Assert.Equal(Code + 4, S->Pc);
        Assert.Equal(BitConverter.DoubleToUInt64Bits(4.0), S->F[3]);
        Assert.Equal((byte)ExceptionCause.IllegalInstruction, S->PendingCause);
    }

    private static uint CsrrwiFrm(uint mode) => Encode.I(0x002, (int)mode, 5, 0, 0x73);
    private static uint FmvXD(int rd, int rs1) => Encode.R(0b1110001, 0, rs1, 0, rd, 0x53);

    [Fact]
    public void DynamicRoundingModeIsReadAgainAfterFrmIsWritten()
    {
        // One block: the first fdiv checks frm (RNE); the write makes it RUP for the second.
        var exit = Run(new Asm().I32(FdivD(3, 1, 2, 7)).I32(CsrrwiFrm(3)).I32(FdivD(4, 1, 2, 7)).Ecall(), Mstatus.FsDirty, 0);
        Assert.Equal(RegionExit.Continue, exit);
        Assert.Equal(0x3fd5555555555555UL, S->F[3]);
        Assert.Equal(0x3fd5555555555556UL, S->F[4]);
    }

    [Fact]
    public void ReservedFrmWrittenInsideTheBlockIsIllegal()
    {
        var exit = Run(new Asm().I32(FaddD(3, 1, 2, 7)).I32(CsrrwiFrm(5)).I32(FaddD(4, 1, 2, 7)).Ecall(), Mstatus.FsDirty, 0);
        Assert.Equal(RegionExit.Exception, exit);
        Assert.Equal(Code + 8, S->Pc);
        Assert.Equal(BitConverter.DoubleToUInt64Bits(4.0), S->F[3]);
        Assert.Equal(0UL, S->F[4]);
        Assert.Equal((byte)ExceptionCause.IllegalInstruction, S->PendingCause);
    }

    [Fact]
    public void FsStaysCleanUntilTheFirstWriteOfAnFRegister()
    {
        // fmv.x.d reads only; the fault of the load after it must leave FS clean, as the interpreter does.
        var exit = Run(new Asm().I32(FmvXD(5, 1)).Ld(6, 0, 8).I32(FaddD(3, 1, 2, 0)).Ecall(), Mstatus.FsClean, 0);
        Assert.Equal(RegionExit.Exception, exit);
        Assert.Equal(Code + 4, S->Pc);
        Assert.Equal(Mstatus.FsClean, S->Mstatus & Mstatus.FsMask);
        Assert.Equal(BitConverter.DoubleToUInt64Bits(1.0), S->X[5]);
    }

    [Fact]
    public void FsBecomesDirtyInEveryBlockThatWritesAnFRegister()
    {
        // Two blocks (the branch ends the first); each one's first F write marks FS dirty, and a region
        // entered at the second block still does.
        var a = new Asm().I32(FaddD(3, 1, 2, 0)).Beq(0, 0, 4).I32(FaddD(4, 1, 2, 0)).Ecall();
        var exit = Run(a, Mstatus.FsClean, 0);
        Assert.Equal(RegionExit.Continue, exit);
        Assert.Equal(Mstatus.FsDirty, S->Mstatus & Mstatus.FsMask);
        Assert.Equal(BitConverter.DoubleToUInt64Bits(4.0), S->F[4]);
    }

    [Fact]
    public void FlagsAccrueAndFsBecomesDirty()
    {
        // f3 = 1/3 (dynamic rounding, frm = RUP) is inexact; f4 = 1 + 3 is exact.
        var exit = Run(new Asm().I32(FdivD(3, 1, 2, 7)).I32(FaddD(4, 1, 2, 0)).Ecall(), Mstatus.FsClean, 3);
        Assert.Equal(RegionExit.Continue, exit);
        Assert.Equal(0x3fd5555555555556UL, S->F[3]); // rounded up (RNE gives ...55)
        Assert.Equal(BitConverter.DoubleToUInt64Bits(4.0), S->F[4]);
        Assert.Equal((byte)FpFlags.Inexact, S->Fflags);
        Assert.Equal(Mstatus.FsDirty, S->Mstatus & Mstatus.FsMask);
        Assert.NotEqual(0UL, S->Mstatus & Mstatus.Sd);
    }
}
