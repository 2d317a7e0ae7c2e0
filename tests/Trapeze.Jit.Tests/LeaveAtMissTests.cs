using Trapeze.Core.Cpu;
using Trapeze.Core.Memory;
using Trapeze.Jit.Fuzz;

namespace Trapeze.Jit.Tests;

/// <summary>First translations leave the region at a TLB miss (RegionExit.LeftAtMiss); a region that
/// keeps leaving is translated again with the MMU called in place.</summary>
public sealed unsafe class LeaveAtMissTests : IDisposable
{
    private const ulong Code = FuzzLayout.CodeBase;
    private const ulong Data = FuzzLayout.ScratchBase + 0x100;
    private const ulong Device = 0x1000_0000;
    private FuzzMachine _m = new(translate: false);

    public void Dispose() => _m.Dispose();

    private HartState* S => _m.State;

    private void Load(Asm a, ulong pc)
    {
        a.Page.CopyTo(_m.Ram.AsSpan(Code - FuzzLayout.RamBase, 4096));
        _m.Ram.InvalidateCode(_m.Ram.PageOf(Code));
        _m.Start(new FuzzConfig(Privilege.Machine, false, false, true, false), new FuzzVector(), pc);
    }

    [Fact]
    public void MissLeavesBeforeTheAccessWithExactState()
    {
        var a = new Asm().Addi(10, 10, 1).Addi(10, 10, 1).Ld(11, 12, 0).Addi(10, 10, 1).Ecall();
        Load(a, Code);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(_m.Ram.AsSpan(Data - FuzzLayout.RamBase, 8), 0x1234);
        S->X[11] = 77;
        S->X[12] = Data;
        Region region;
        fixed (byte* p = a.Page) region = Region.Build(p, Code)!;
        region.LeaveAtMiss = true;
        var c = IlEmitter.Compile(region);
        Assert.True(c.LeavesAtMiss);

        Assert.Equal(RegionExit.LeftAtMiss, c.Function(S, _m.Hart, c.Insns));
        Assert.Equal(Code + 8, S->Pc);
        Assert.Equal(2UL, S->Retired);
        Assert.Equal(2UL, S->X[10]);
        Assert.Equal(77UL, S->X[11]); // not loaded

        // Once the entry is in the TLB (the interpreter's access fills it), the same code runs through.
        Assert.True(_m.Hart.Mmu.Load64(Data, out _));
        S->Pc = Code;
        Assert.Equal(RegionExit.Continue, c.Function(S, _m.Hart, c.Insns));
        Assert.Equal(Code + 16, S->Pc);
        Assert.Equal(2UL + 4, S->Retired);
        Assert.Equal(0x1234UL, S->X[11]);
        Assert.Equal(5UL, S->X[10]);
    }

    [Fact]
    public void RegionWithoutMemoryAccessesNeverLeavesAtMiss()
    {
        var a = new Asm().Addi(10, 10, 1).Ecall();
        Region region;
        fixed (byte* p = a.Page) region = Region.Build(p, Code)!;
        region.LeaveAtMiss = true;
        Assert.False(IlEmitter.Compile(region).LeavesAtMiss);
    }

    /// <summary>A device register counting its reads.</summary>
    private sealed class Counter : IMmioDevice
    {
        public int Reads;
        public string Name => "counter";
        public ulong Size => 0x1000;
        public bool Read(ulong offset, int size, out ulong value)
        {
            value = (ulong)++Reads;
            return true;
        }
        public bool Write(ulong offset, int size, ulong value) => true;
    }

    /// <summary>A loop polling a device register starts at that load, so its first translation leaves at
    /// once every time (the block is then interpreted); after <see cref="Hart.RetranslateAfterMisses"/>
    /// such exits the region is made again with the MMU call, and every read happened exactly once.</summary>
    [Fact]
    public void DevicePollingLoopIsTranslatedAgainWithTheCallAndReadsOncePerIteration()
    {
        _m.Dispose();
        _m = new FuzzMachine(translate: true, threshold: 100, synchronous: true);
        var device = new Counter();
        _m.Bus.AddDevice(Device, device);
        // t0 = device; loop: lw t1, 0(t0); addi a0, a0, 1; bne a0, a1, loop; wfi
        var a = new Asm().I32(Encode.Lui(5, (long)(Device >> 12))).Lw(6, 5, 0).Addi(10, 10, 1).Bne(10, 11, -8).Wfi();
        Load(a, Code);
        S->X[11] = 5000;
        for (int i = 0; i < 20_000 && S->Wfi == 0; i++) _m.Hart.Step(1);

        Assert.NotEqual(0, S->Wfi);
        Assert.Equal(5000UL, S->X[10]);
        Assert.Equal(5000, device.Reads);
        Assert.Equal(5000UL, S->X[6]);
        Assert.Equal(1 + 3 * 5000UL + 1, S->Retired);
        Assert.InRange(_m.Hart.Stats.TlbMissExits, Hart.RetranslateAfterMisses, 2 * Hart.RetranslateAfterMisses);
        Assert.Equal(1, _m.Translator!.Stats.Retranslations);
        var loop = _m.Hart.Blocks.Find(Code + 4)?.Compiled;
        Assert.NotNull(loop);
        Assert.False(loop.LeavesAtMiss);
        Assert.True(_m.Hart.Stats.TranslatedInstructions > 10_000);
    }
}
