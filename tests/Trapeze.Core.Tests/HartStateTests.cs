using System.Runtime.InteropServices;
using Trapeze.Core.Cpu;
using Trapeze.Core.Memory;

namespace Trapeze.Core.Tests;

/// <summary>The hart's State record: the architectural part of HartState copied whole, the derived part rebuilt.</summary>
public sealed unsafe class HartStateTests
{
    [Fact]
    public void A_hart_state_round_trips_into_another_hart_and_keeps_its_own_tlbs()
    {
        var bus = new Bus();
        var clock = new MachineClock();
        using var a = new Hart(0, bus, clock);
        a.Reset(0x1000);
        for (int i = 1; i < 32; i++) a.State->X[i] = (ulong)i * 0x1111;
        a.State->F[3] = 0x4000_0000_0000_0000;
        a.State->Pc = 0x8020_0000;
        Assert.True(a.CsrWrite(Csr.Mscratch, 0xdead_beef));
        Assert.True(a.CsrWrite(Csr.Satp, 8UL << 60 | 0x80123));
        a.State->ReservationValid = 1;
        a.Park();
        HartSavedState saved = a.SaveState();
        Assert.Equal(Hart.ArchitecturalStateSize, saved.Architectural.Length);
        Assert.True(saved.Parked);

        using var b = new Hart(1, bus, clock);
        b.Reset(0x1000);
        var readTlb = b.State->ReadTlb;
        b.RestoreState(saved);
        Assert.Null(Hart.CheckSavedState(saved));
        Assert.True(b.IsParked);
        Assert.Equal(0x8020_0000UL, b.State->Pc);
        Assert.Equal(31UL * 0x1111, b.State->X[31]);
        Assert.True(b.CsrRead(Csr.Mscratch, out ulong scratch));
        Assert.Equal(0xdead_beefUL, scratch);
        Assert.Equal(0, b.State->ReservationValid); // dropped: an SC may always fail
        Assert.True(readTlb == b.State->ReadTlb);   // the derived part is the hart's own
        var again = b.SaveState().Architectural.ToArray();
        var expected = saved.Architectural.ToArray();
        expected[(int)Marshal.OffsetOf<HartState>(nameof(HartState.ReservationValid))] = 0;
        Assert.Equal(expected, again);
    }

    [Fact]
    public void A_saved_state_no_hart_could_have_is_refused()
    {
        var bus = new Bus();
        using var h = new Hart(0, bus, new MachineClock());
        HartSavedState good = h.SaveState();
        var shortState = good with { Architectural = [.. good.Architectural.AsSpan()[..^1]] };
        Assert.NotNull(Hart.CheckSavedState(shortState));
        Assert.Throws<ArgumentException>(() => h.RestoreState(shortState));

        var bytes = good.Architectural.ToArray();
        bytes[(int)Marshal.OffsetOf<HartState>(nameof(HartState.Priv))] = 2;
        Assert.Equal("privilege level 2 is not one this hart implements", Hart.CheckSavedState(good with { Architectural = [.. bytes] }));
        Assert.NotEqual(0UL, Hart.ArchitecturalLayoutId);
        Assert.True(Hart.ArchitecturalStateSize < sizeof(HartState));
    }
}
