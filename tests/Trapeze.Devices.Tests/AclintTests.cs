using Trapeze.Core.Cpu;
using Trapeze.Devices.Irq;

namespace Trapeze.Devices.Tests;

public sealed class AclintTests
{
    private static (Aclint Clint, FakeHartPins[] Harts, MachineClock Clock) Create(int harts = 2)
    {
        FakeHartPins[] pins = FakeHartPins.Create(harts);
        var clock = new MachineClock();
        clock.Pause();
        clock.Set(0);
        return (new Aclint(pins, clock), pins, clock);
    }

    [Fact]
    public void Reset_state_matches_qemu()
    {
        var (_, harts, _) = Create();
        Assert.All(harts, h => Assert.False(h.Msip));
        Assert.All(harts, h => Assert.Equal(0ul, h.Mtimecmp));
    }

    [Fact]
    public void Msip_drives_the_software_interrupt_bit_zero_only()
    {
        var (clint, harts, _) = Create();
        Assert.True(clint.Write(0x4, 4, 0xffff_fffe)); // bit 0 clear
        Assert.False(harts[1].Msip);
        Assert.True(clint.Write(0x4, 4, 1));
        Assert.True(harts[1].Msip);
        Assert.False(harts[0].Msip);
        Assert.True(clint.Read(0x4, 4, out ulong value));
        Assert.Equal(1ul, value);
        Assert.True(clint.Write(0x4, 4, 0));
        Assert.False(harts[1].Msip);
        // A hart that does not exist: accepted, reads zero.
        Assert.True(clint.Write(0x8, 4, 1));
        Assert.True(clint.Read(0x8, 4, out value));
        Assert.Equal(0ul, value);
    }

    [Fact]
    public void Msip_takes_32_bit_accesses_only()
    {
        var (clint, _, _) = Create();
        Assert.False(clint.Write(0x0, 1, 1));
        Assert.False(clint.Write(0x0, 2, 1));
        Assert.False(clint.Write(0x0, 8, 1));
        Assert.False(clint.Read(0x2, 4, out _));
    }

    [Fact]
    public void Mtimecmp_64_bit_and_halves()
    {
        var (clint, harts, _) = Create();
        ulong cmp1 = Aclint.MtimecmpBase + 8;
        Assert.True(clint.Write(cmp1, 8, 0x1122_3344_5566_7788));
        Assert.Equal(0x1122_3344_5566_7788ul, harts[1].Mtimecmp);
        Assert.Equal(0ul, harts[0].Mtimecmp);

        Assert.True(clint.Write(cmp1, 4, 0xaabb_ccdd));
        Assert.Equal(0x1122_3344_aabb_ccddul, harts[1].Mtimecmp);
        Assert.True(clint.Write(cmp1 + 4, 4, 0xffff_ffff));
        Assert.Equal(0xffff_ffff_aabb_ccddul, harts[1].Mtimecmp);

        Assert.True(clint.Read(cmp1, 8, out ulong value));
        Assert.Equal(0xffff_ffff_aabb_ccddul, value);
        Assert.True(clint.Read(cmp1, 4, out value));
        Assert.Equal(0xaabb_ccddul, value);
        Assert.True(clint.Read(cmp1 + 4, 4, out value));
        Assert.Equal(0xffff_fffful, value);

        // The RV32 idiom: low word to all ones first, then high, then low.
        ulong cmp0 = Aclint.MtimecmpBase;
        Assert.True(clint.Write(cmp0, 4, 0xffff_ffff));
        Assert.True(clint.Write(cmp0 + 4, 4, 0x1));
        Assert.True(clint.Write(cmp0, 4, 0x2));
        Assert.Equal(0x1_0000_0002ul, harts[0].Mtimecmp);
    }

    [Fact]
    public void Mtimer_rejects_bad_sizes_and_alignment()
    {
        var (clint, _, _) = Create();
        Assert.False(clint.Write(Aclint.MtimecmpBase + 4, 8, 0)); // misaligned 64-bit
        Assert.False(clint.Write(Aclint.MtimecmpBase, 2, 0));
        Assert.False(clint.Read(Aclint.MtimeOffset, 1, out _));
        Assert.False(clint.Read(0xc000, 4, out _)); // beyond the MTIMER: unmapped in QEMU too
        Assert.False(clint.Read(0x1_0000, 4, out _));
        Assert.True(clint.Read(0x8000, 4, out ulong value)); // no such hart: reads 0
        Assert.Equal(0ul, value);
    }

    [Fact]
    public void Mtime_reads_the_clock_and_writes_set_it()
    {
        var (clint, harts, clock) = Create();
        clock.Set(0x1_2345_6789);
        Assert.True(clint.Read(Aclint.MtimeOffset, 8, out ulong value));
        Assert.Equal(0x1_2345_6789ul, value);
        Assert.True(clint.Read(Aclint.MtimeOffset, 4, out value));
        Assert.Equal(0x2345_6789ul, value);
        Assert.True(clint.Read(Aclint.MtimeOffset + 4, 4, out value));
        Assert.Equal(0x1ul, value);

        int before = harts[0].MtimecmpWrites;
        Assert.True(clint.Write(Aclint.MtimeOffset, 8, 0xdead_0000_beef));
        Assert.Equal(0xdead_0000_beeful, clock.Now);
        Assert.True(harts[0].MtimecmpWrites > before); // harts re-evaluate their deadline

        Assert.True(clint.Write(Aclint.MtimeOffset, 4, 0x1234));
        Assert.Equal(0xdead_0000_1234ul, clock.Now);
        Assert.True(clint.Write(Aclint.MtimeOffset + 4, 4, 0x7));
        Assert.Equal(0x7_0000_1234ul, clock.Now);
    }

    [Fact]
    public void Mtime_advances_with_a_running_clock()
    {
        var clock = new MachineClock();
        var clint = new Aclint(FakeHartPins.Create(1), clock);
        Assert.True(clint.Read(Aclint.MtimeOffset, 8, out ulong first));
        Thread.Sleep(5);
        Assert.True(clint.Read(Aclint.MtimeOffset, 8, out ulong second));
        Assert.True(second > first);
    }
}
