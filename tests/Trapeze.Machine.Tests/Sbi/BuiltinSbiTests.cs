using System.Text;
using Trapeze.Core.Cpu;
using Trapeze.Devices.Power;
using Trapeze.Machine.Sbi;

namespace Trapeze.Machine.Tests.Sbi;

/// <summary>The built-in SBI's firmware set-up and its BASE, TIME, IPI, SRST and DBCN functions, with harts
/// driven directly: registers in, handler called, a0/a1 and side effects checked.</summary>
public sealed unsafe class BuiltinSbiTests
{
    private const ulong Pmu = 0x504D55, Fwft = 0x46574654;

    [Fact]
    public void Boot_hart_enters_S_mode_at_the_kernel_like_after_firmware()
    {
        using var rig = new SbiTestRig(harts: 3);
        HartState* s = rig.Harts[0].State;
        Assert.Equal(Privilege.Supervisor, s->Priv);
        Assert.Equal(SbiTestRig.Entry, s->Pc);
        Assert.Equal(0UL, rig.X(0, Rv.A0));
        Assert.Equal(SbiTestRig.Fdt, rig.X(0, Rv.A1));
        Assert.Equal(0UL, s->Satp);
        Assert.Equal(0UL, s->Mstatus & Mstatus.Sie);
        Assert.Equal(HsmState.Started, rig.Sbi.StateOf(0));
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(BuiltinSbi.Medeleg, rig.Csr(i, Csr.Medeleg));
            Assert.Equal(0x222UL, rig.Csr(i, Csr.Mideleg));
            Assert.Equal(0xffff_ffffUL, rig.Csr(i, Csr.Mcounteren));
            Assert.Equal(Hart.MenvcfgStce, rig.Csr(i, Csr.Menvcfg) & Hart.MenvcfgStce);
            Assert.Equal(ulong.MaxValue, rig.Csr(i, Csr.Stimecmp));
        }
        // OpenSBI's delegation is a subset: what it redirects by hand is delegated here.
        Assert.Equal(0xb109UL, BuiltinSbi.Medeleg & 0xb109);
        Assert.Equal(1UL << (int)ExceptionCause.IllegalInstruction, BuiltinSbi.Medeleg & (1UL << (int)ExceptionCause.IllegalInstruction));
        Assert.Equal(0UL, BuiltinSbi.Medeleg & (1UL << (int)ExceptionCause.EcallFromS));
        for (int i = 1; i < 3; i++)
        {
            Assert.True(rig.Harts[i].IsParked);
            Assert.Equal(HsmState.Stopped, rig.Sbi.StateOf(i));
        }
    }

    [Fact]
    public void Pmp_lets_S_mode_reach_all_of_RAM()
    {
        using var rig = new SbiTestRig();
        var mmu = rig.Harts[0].Mmu;
        Assert.True(mmu.Store64(SbiTestRig.RamBase + 0x100, 0x1234));
        Assert.True(mmu.Load64(SbiTestRig.RamBase + 0x100, out ulong v));
        Assert.Equal(0x1234UL, v);
        Assert.True(mmu.TranslateFetch(SbiTestRig.Entry, out _, out _));
    }

    [Fact]
    public void Base_reports_spec_2_0_the_implementation_and_the_extensions()
    {
        using var rig = new SbiTestRig();
        Assert.Equal((0L, 0x0200_0000UL), rig.Call(0, SbiExtension.Base, 0));
        Assert.Equal((0L, BuiltinSbi.ImplementationId), rig.Call(0, SbiExtension.Base, 1));
        Assert.Equal((0L, BuiltinSbi.ImplementationVersion), rig.Call(0, SbiExtension.Base, 2));
        foreach (ulong eid in new[] { SbiExtension.Base, SbiExtension.Time, SbiExtension.Ipi, SbiExtension.Rfence,
                     SbiExtension.Hsm, SbiExtension.Srst, SbiExtension.Dbcn })
            Assert.Equal((0L, 1UL), rig.Call(0, SbiExtension.Base, 3, eid));
        foreach (ulong eid in new[] { Pmu, Fwft, 0UL /* legacy set_timer */, 0x1UL /* legacy putchar */, ulong.MaxValue })
            Assert.Equal((0L, 0UL), rig.Call(0, SbiExtension.Base, 3, eid));
        for (ulong fid = 4; fid <= 6; fid++) Assert.Equal((0L, 0UL), rig.Call(0, SbiExtension.Base, fid));
        Assert.Equal(SbiError.NotSupported, rig.Call(0, SbiExtension.Base, 7).Error);
    }

    [Fact]
    public void Unknown_extensions_are_not_supported_and_registers_other_than_a0_a1_survive()
    {
        using var rig = new SbiTestRig();
        HartState* s = rig.Harts[0].State;
        for (int r = 1; r < 32; r++) s->X[r] = 0x1000 + (ulong)r;
        var (error, _) = rig.Call(0, Fwft, 0, 0x1000 + 10, 0x1000 + 11, 0x1000 + 12);
        Assert.Equal(SbiError.NotSupported, error);
        for (int r = 12; r < 16; r++) Assert.Equal(0x1000 + (ulong)r, s->X[r]);
        Assert.Equal(1, rig.Sbi.Statistics[SbiCall.NotSupported]);
        Assert.Equal(SbiError.NotSupported, rig.Call(0, SbiExtension.Time, 1).Error);
        Assert.Equal(SbiError.NotSupported, rig.Call(0, SbiExtension.Srst, 1).Error);
        Assert.Equal(SbiError.NotSupported, rig.Call(0, SbiExtension.Dbcn, 3).Error);
    }

    [Fact]
    public void Set_timer_programs_stimecmp_and_STIP_follows_it()
    {
        using var rig = new SbiTestRig();
        rig.Clock.Set(1_000_000);
        Assert.Equal((0L, 0UL), rig.Call(0, SbiExtension.Time, 0, 500));
        Assert.Equal(500UL, rig.Csr(0, Csr.Stimecmp));
        Assert.NotEqual(0UL, rig.Csr(0, Csr.Sip) & Interrupt.Stip);
        // A deadline in the future clears the pending interrupt, masked or not.
        Assert.Equal((0L, 0UL), rig.Call(0, SbiExtension.Time, 0, ulong.MaxValue));
        Assert.Equal(0UL, rig.Csr(0, Csr.Sip) & Interrupt.Stip);
        Assert.Equal(2, rig.Sbi.Statistics[SbiCall.TimeSetTimer]);
    }

    [Fact]
    public void Set_timer_wakes_a_hart_in_WFI_when_the_deadline_passes()
    {
        using var rig = new SbiTestRig();
        rig.Code(SbiTestRig.Entry, Rv.Wfi, Rv.Jal(0, 0));
        Assert.True(rig.Harts[0].CsrWrite(Csr.Sie, Interrupt.Stip));
        Assert.True(rig.Harts[0].CsrWrite(Csr.Stvec, SbiTestRig.Entry + 4));
        rig.Call(0, SbiExtension.Time, 0, rig.Clock.Now + MachineClock.Frequency / 20); // 50 ms
        rig.Harts[0].State->Mstatus |= Mstatus.Sie;
        rig.RunOnThread(0);
        SbiTestRig.WaitUntil(() => rig.Harts[0].Stats.Interrupts > 0, "the S timer interrupt");
        Assert.True(rig.StopAll(TimeSpan.FromSeconds(10)));
        Assert.Equal((1UL << 63) | Interrupt.SupervisorTimer, rig.Harts[0].State->Scause);
    }

    [Fact]
    public void Send_ipi_sets_SSIP_on_running_targets_only()
    {
        using var rig = new SbiTestRig(harts: 4);
        // Harts 1..3 are stopped: an IPI to them is dropped, as OpenSBI does.
        Assert.Equal((0L, 0UL), rig.Call(0, SbiExtension.Ipi, 0, 0b1111, 0));
        Assert.NotEqual(0UL, rig.Csr(0, Csr.Mip) & Interrupt.Ssip);
        for (int i = 1; i < 4; i++) Assert.Equal(0UL, rig.Csr(i, Csr.Mip) & Interrupt.Ssip);
        Assert.True(rig.Harts[0].CsrWrite(Csr.Sip, 0));
        // hart_mask_base = -1: every hart, whatever the mask.
        Assert.Equal((0L, 0UL), rig.Call(0, SbiExtension.Ipi, 0, 0, ulong.MaxValue));
        Assert.NotEqual(0UL, rig.Csr(0, Csr.Mip) & Interrupt.Ssip);
        Assert.Equal(2, rig.Sbi.Statistics[SbiCall.IpiSendIpi]);
    }

    [Theory]
    [InlineData(0b1UL, 4UL)]          // hart 4 of 4
    [InlineData(0b10000UL, 0UL)]      // bit 4
    [InlineData(0b1UL, 1UL << 40)]    // absurd base
    [InlineData(1UL << 63, 1UL)]      // the sum overflows 64 bits
    public void Send_ipi_to_a_hart_that_does_not_exist_is_an_invalid_parameter(ulong mask, ulong maskBase)
    {
        using var rig = new SbiTestRig(harts: 4);
        Assert.Equal(SbiError.InvalidParam, rig.Call(0, SbiExtension.Ipi, 0, mask | 1, maskBase).Error);
        // Nothing was sent, not even to the harts that do exist.
        Assert.Equal(0UL, rig.Csr(0, Csr.Mip) & Interrupt.Ssip);
    }

    [Fact]
    public void Hart_masks_decode_base_and_bits()
    {
        using var rig = new SbiTestRig(harts: 8);
        Assert.True(rig.Sbi.TryDecodeHartMask(0b101, 2, out ulong h));
        Assert.Equal(0b10100UL, h);
        Assert.True(rig.Sbi.TryDecodeHartMask(0b1, 7, out h));
        Assert.Equal(0x80UL, h);
        Assert.False(rig.Sbi.TryDecodeHartMask(0b11, 7, out _));
        Assert.True(rig.Sbi.TryDecodeHartMask(0, 1000, out h));
        Assert.Equal(0UL, h);
        Assert.True(rig.Sbi.TryDecodeHartMask(0, ulong.MaxValue, out h));
        Assert.Equal(0xffUL, h);
    }

    [Theory]
    [InlineData(0UL, 0UL, PowerRequestKind.PowerOff, 0)]
    [InlineData(0UL, 1UL, PowerRequestKind.Fail, 1)]
    [InlineData(1UL, 0UL, PowerRequestKind.Reset, 0)]
    [InlineData(2UL, 1UL, PowerRequestKind.Reset, 0)]
    public void System_reset_powers_off_or_resets_and_does_not_return(ulong type, ulong reason, PowerRequestKind kind, int exitCode)
    {
        using var rig = new SbiTestRig();
        HartState* s = rig.Harts[0].State;
        s->X[Rv.A0] = 0;
        rig.Call(0, SbiExtension.Srst, 0, type, reason);
        Assert.Equal([new PowerRequest(kind, exitCode)], rig.Power);
        Assert.True(rig.Harts[0].IsParked);
    }

    [Theory]
    [InlineData(3UL, 0UL)]
    [InlineData(0xF000_0000UL, 0UL)]  // vendor-specific type: none implemented
    [InlineData(0UL, 2UL)]
    [InlineData(0UL, 0xE000_0000UL)]  // implementation-specific reason: none defined
    [InlineData(1UL << 32, 0UL)]      // not a 32-bit value
    public void System_reset_rejects_reserved_and_unimplemented_values(ulong type, ulong reason)
    {
        using var rig = new SbiTestRig();
        Assert.Equal(SbiError.InvalidParam, rig.Call(0, SbiExtension.Srst, 0, type, reason).Error);
        Assert.Empty(rig.Power);
        Assert.False(rig.Harts[0].IsParked);
    }

    [Fact]
    public void Console_write_sends_guest_memory_and_returns_the_count()
    {
        using var rig = new SbiTestRig();
        ulong buf = SbiTestRig.RamBase + 0x2000;
        Assert.True(rig.Memory.TryWrite(buf, "hello, sbi\n"u8));
        Assert.Equal((0L, 11UL), rig.Call(0, SbiExtension.Dbcn, 0, 11, buf, 0));
        Assert.Equal((0L, 0UL), rig.Call(0, SbiExtension.Dbcn, 2, (ulong)'!' | 0xff00));
        Assert.Equal((0L, 0UL), rig.Call(0, SbiExtension.Dbcn, 0, 0, buf, 0));
        Assert.Equal("hello, sbi\n!", Encoding.ASCII.GetString(rig.Console.Written));
        // The ROM can be written from.
        Assert.Equal(0L, rig.Call(0, SbiExtension.Dbcn, 0, 4, SbiTestRig.RomBase, 0).Error);
    }

    [Theory]
    [InlineData(0x7000_0000UL, 4UL, 0UL)]                                   // not memory
    [InlineData(SbiTestRig.RamBase + SbiTestRig.RamSize - 2, 4UL, 0UL)]     // runs off the end of RAM
    [InlineData(SbiTestRig.RamBase, 4UL, 1UL)]                              // high half of the address set
    [InlineData(SbiTestRig.RamBase, ulong.MaxValue, 0UL)]                   // absurd length
    public void Console_write_and_read_check_the_whole_range(ulong address, ulong count, ulong high)
    {
        using var rig = new SbiTestRig();
        rig.Console.Type("x");
        Assert.Equal(SbiError.InvalidParam, rig.Call(0, SbiExtension.Dbcn, 0, count, address, high).Error);
        Assert.Equal(SbiError.InvalidParam, rig.Call(0, SbiExtension.Dbcn, 1, count, address, high).Error);
        Assert.Empty(rig.Console.Written);
    }

    [Fact]
    public void Console_read_takes_pending_input_without_blocking()
    {
        using var rig = new SbiTestRig();
        ulong buf = SbiTestRig.RamBase + 0x3000;
        Assert.Equal((0L, 0UL), rig.Call(0, SbiExtension.Dbcn, 1, 16, buf, 0));
        rig.Console.Type("abc");
        Assert.Equal((0L, 2UL), rig.Call(0, SbiExtension.Dbcn, 1, 2, buf, 0));
        Assert.Equal((0L, 1UL), rig.Call(0, SbiExtension.Dbcn, 1, 16, buf + 2, 0));
        var got = new byte[4];
        Assert.True(rig.Memory.TryRead(buf, got));
        Assert.Equal("abc\0", Encoding.ASCII.GetString(got));
        // Reading into the ROM is refused.
        Assert.Equal(SbiError.InvalidParam, rig.Call(0, SbiExtension.Dbcn, 1, 1, SbiTestRig.RomBase, 0).Error);
    }

    [Fact]
    public void An_ECALL_from_S_mode_is_a_hypercall_that_retires()
    {
        using var rig = new SbiTestRig();
        rig.Code(SbiTestRig.Entry, [.. Rv.LoadA7(SbiExtension.Base), Rv.Addi(Rv.A6, 0, 0), Rv.Ecall, Rv.Wfi]);
        var hart = rig.Harts[0];
        hart.Step(1); // one block: up to and including the ECALL
        Assert.Equal(0UL, rig.X(0, Rv.A0));
        Assert.Equal(BuiltinSbi.SpecVersion, rig.X(0, Rv.A1));
        Assert.Equal(SbiTestRig.Entry + 16, hart.State->Pc);
        Assert.Equal(1, hart.Stats.Hypercalls);
        Assert.Equal(0, hart.Stats.Exceptions);
        Assert.Equal(Privilege.Supervisor, hart.State->Priv);
    }

    [Fact]
    public void An_ECALL_from_U_mode_still_traps_to_the_kernel()
    {
        using var rig = new SbiTestRig();
        var hart = rig.Harts[0];
        ulong user = SbiTestRig.RamBase + 0x4000, vector = SbiTestRig.RamBase + 0x5000;
        rig.Code(user, Rv.Ecall);
        rig.Code(vector, Rv.Wfi);
        Assert.True(hart.CsrWrite(Csr.Stvec, vector));
        hart.State->Priv = Privilege.User;
        hart.State->Pc = user;
        hart.Mmu.UpdateContext();
        hart.Step(1);
        Assert.Equal((ulong)ExceptionCause.EcallFromU, hart.State->Scause);
        Assert.Equal(vector, hart.State->Pc);
        Assert.Equal(0, hart.Stats.Hypercalls);
    }

    [Fact]
    public void Illegal_instructions_from_U_mode_reach_the_kernel_without_M_mode()
    {
        using var rig = new SbiTestRig();
        var hart = rig.Harts[0];
        ulong user = SbiTestRig.RamBase + 0x4000, vector = SbiTestRig.RamBase + 0x5000;
        rig.Code(user, 0xffff_ffff);
        rig.Code(vector, Rv.Wfi);
        Assert.True(hart.CsrWrite(Csr.Stvec, vector));
        hart.State->Priv = Privilege.User;
        hart.State->Pc = user;
        hart.Mmu.UpdateContext();
        hart.Step(1);
        Assert.Equal(Privilege.Supervisor, hart.State->Priv);
        Assert.Equal((ulong)ExceptionCause.IllegalInstruction, hart.State->Scause);
    }
}
