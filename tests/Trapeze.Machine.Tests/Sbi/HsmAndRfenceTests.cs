using Trapeze.Core.Cpu;
using Trapeze.Machine.Sbi;

namespace Trapeze.Machine.Tests.Sbi;

/// <summary>HSM and RFENCE: functions that act on other harts, with those harts' loops running on their own
/// threads where the behaviour depends on it.</summary>
public sealed unsafe class HsmAndRfenceTests
{
    private const ulong Opaque = 0x1234_5678_9abc_def0;
    private static readonly ulong Park = SbiTestRig.RamBase + 0x6000;

    [Fact]
    public void Hart_start_enters_the_target_in_S_mode_with_hartid_and_opaque()
    {
        using var rig = new SbiTestRig(harts: 3);
        rig.Code(Park, Rv.Wfi, Rv.Jal(0, -4));
        // Give the stopped hart state that must not survive the start.
        rig.Harts[2].State->Satp = 8UL << 60;
        rig.Harts[2].State->Mstatus |= Mstatus.Sie;
        Assert.Equal((0L, 0UL), rig.Call(0, SbiExtension.Hsm, 0, 2, Park, Opaque));
        Assert.Equal(HsmState.StartPending, rig.Sbi.StateOf(2));
        Assert.Equal((0L, (ulong)HsmState.StartPending), rig.Call(0, SbiExtension.Hsm, 2, 2));
        // Only a stopped hart can be started.
        Assert.Equal(SbiError.AlreadyAvailable, rig.Call(0, SbiExtension.Hsm, 0, 2, Park, 0).Error);

        rig.Harts[2].Step(1); // the hart's thread applies the start, then runs
        HartState* s = rig.Harts[2].State;
        Assert.Equal(HsmState.Started, rig.Sbi.StateOf(2));
        Assert.False(rig.Harts[2].IsParked);
        Assert.Equal(Privilege.Supervisor, s->Priv);
        Assert.Equal(2UL, s->X[Rv.A0]);
        Assert.Equal(Opaque, s->X[Rv.A1]);
        Assert.Equal(0UL, s->Satp);
        Assert.Equal(0UL, s->Mstatus & Mstatus.Sie);
        Assert.Equal(Park + 4, s->Pc); // after the WFI
        Assert.Equal(SbiError.AlreadyAvailable, rig.Call(0, SbiExtension.Hsm, 0, 2, Park, 0).Error);
        // Hart 1 was never started.
        Assert.Equal((0L, (ulong)HsmState.Stopped), rig.Call(0, SbiExtension.Hsm, 2, 1));
        Assert.True(rig.Harts[1].IsParked);
    }

    [Theory]
    [InlineData(3UL, 0x8000_6000UL, SbiError.InvalidParam)]
    [InlineData(ulong.MaxValue, 0x8000_6000UL, SbiError.InvalidParam)]
    [InlineData(1UL, 0x4000_0000UL, SbiError.InvalidAddress)]  // not memory
    [InlineData(1UL, 0x8000_6001UL, SbiError.InvalidAddress)]  // not an instruction address
    [InlineData(0UL, 0x8000_6000UL, SbiError.AlreadyAvailable)] // the caller itself
    public void Hart_start_errors(ulong hartId, ulong address, long error)
    {
        using var rig = new SbiTestRig(harts: 3);
        Assert.Equal(error, rig.Call(0, SbiExtension.Hsm, 0, hartId, address, 0).Error);
        Assert.Equal(HsmState.Stopped, rig.Sbi.StateOf(1));
        Assert.True(rig.Harts[1].IsParked);
    }

    [Fact]
    public void Hart_get_status_rejects_unknown_harts()
    {
        using var rig = new SbiTestRig(harts: 2);
        Assert.Equal((0L, (ulong)HsmState.Started), rig.Call(0, SbiExtension.Hsm, 2, 0));
        Assert.Equal(SbiError.InvalidParam, rig.Call(0, SbiExtension.Hsm, 2, 2).Error);
        Assert.Equal(SbiError.NotSupported, rig.Call(0, SbiExtension.Hsm, 4).Error);
    }

    [Fact]
    public void A_hart_started_on_its_thread_stops_and_starts_again()
    {
        using var rig = new SbiTestRig(harts: 2);
        // Hart 1's code: stop itself at once.
        ulong stopper = SbiTestRig.RamBase + 0x7000;
        rig.Code(stopper, [.. Rv.LoadA7(SbiExtension.Hsm), Rv.Addi(Rv.A6, 0, 1), Rv.Ecall, Rv.Jal(0, 0)]);
        rig.RunOnThread(1);
        for (int round = 1; round <= 3; round++)
        {
            Assert.Equal((0L, 0UL), rig.Call(0, SbiExtension.Hsm, 0, 1, stopper, (ulong)round));
            SbiTestRig.WaitUntil(() => rig.Sbi.StateOf(1) == HsmState.Stopped && rig.Harts[1].IsParked, $"hart 1 to stop (round {round})");
        }
        Assert.Equal(3, rig.Sbi.Statistics[SbiCall.HsmHartStop]);
        Assert.Equal(3UL, rig.X(1, Rv.A1)); // the last start's opaque value
        Assert.True(rig.StopAll(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void Retentive_suspend_returns_success_when_an_interrupt_arrives()
    {
        using var rig = new SbiTestRig(harts: 2);
        Assert.True(rig.Harts[0].CsrWrite(Csr.Sie, Interrupt.Ssip));
        (long, ulong) result = (1, 1);
        var caller = new Thread(() => result = rig.Call(0, SbiExtension.Hsm, 3, SbiSuspend.DefaultRetentive, 0, 0));
        caller.Start();
        SbiTestRig.WaitUntil(() => rig.Sbi.StateOf(0) == HsmState.Suspended, "hart 0 to suspend");
        Assert.False(caller.Join(20));
        rig.Harts[0].RaiseSupervisorSoftwareInterrupt();
        Assert.True(caller.Join(TimeSpan.FromSeconds(10)));
        Assert.Equal((0L, 0UL), result);
        Assert.Equal(HsmState.Started, rig.Sbi.StateOf(0));
    }

    [Fact]
    public void Non_retentive_suspend_resumes_at_the_given_address()
    {
        using var rig = new SbiTestRig(harts: 1);
        Assert.True(rig.Harts[0].CsrWrite(Csr.Sie, Interrupt.Ssip));
        rig.Harts[0].State->Satp = 8UL << 60;
        rig.Harts[0].RaiseSupervisorSoftwareInterrupt(); // already pending: the suspend ends at once
        rig.Call(0, SbiExtension.Hsm, 3, SbiSuspend.DefaultNonRetentive, Park, Opaque);
        HartState* s = rig.Harts[0].State;
        Assert.Equal(Park, s->Pc);
        Assert.Equal(0UL, s->X[Rv.A0]);
        Assert.Equal(Opaque, s->X[Rv.A1]);
        Assert.Equal(0UL, s->Satp);
        Assert.Equal(HsmState.Started, rig.Sbi.StateOf(0));
    }

    [Theory]
    [InlineData(1UL)]
    [InlineData(0x1000_0000UL)]   // platform-specific retentive: none implemented
    [InlineData(0x8000_0001UL)]
    [InlineData(0x9000_0000UL)]   // platform-specific non-retentive: none implemented
    [InlineData(1UL << 32)]
    public void Suspend_rejects_other_types(ulong type)
    {
        using var rig = new SbiTestRig(harts: 1);
        Assert.Equal(SbiError.InvalidParam, rig.Call(0, SbiExtension.Hsm, 3, type, Park, 0).Error);
        Assert.Equal(SbiError.InvalidAddress, rig.Call(0, SbiExtension.Hsm, 3, SbiSuspend.DefaultNonRetentive, 0x10, 0).Error);
        Assert.Equal(HsmState.Started, rig.Sbi.StateOf(0));
    }

    /// <summary>Starts hart 1 at a WFI loop on its own thread and waits until it sleeps there.</summary>
    private static void StartSleeper(SbiTestRig rig)
    {
        rig.Code(Park, Rv.Wfi, Rv.Jal(0, -4));
        rig.RunOnThread(1);
        Assert.Equal(0L, rig.Call(0, SbiExtension.Hsm, 0, 1, Park, 0).Error);
        SbiTestRig.WaitUntil(() => rig.Sbi.StateOf(1) == HsmState.Started && rig.Harts[1].Stats.WfiSleeps > 0, "hart 1 to sleep");
    }

    [Theory]
    [InlineData(0UL)]  // remote_fence_i
    [InlineData(1UL)]  // remote_sfence_vma
    [InlineData(2UL)]  // remote_sfence_vma_asid
    public void Remote_fences_are_done_by_the_targets_before_the_call_returns(ulong fid)
    {
        using var rig = new SbiTestRig(harts: 3);
        StartSleeper(rig);
        long before = rig.Harts[1].Stats.RemoteFences;
        // Hart 1 sleeps in WFI, hart 2 is stopped (skipped), hart 0 is the caller (fenced locally).
        Assert.Equal((0L, 0UL), rig.Call(0, SbiExtension.Rfence, fid, 0b111, 0, 0x1000, 0x2000, 5));
        Assert.Equal(before + 1, rig.Harts[1].Stats.RemoteFences);
        Assert.Equal(0, rig.Harts[2].Stats.RemoteFences);
        // The target went back to sleep: a fence is not an interrupt.
        Assert.Equal(HsmState.Started, rig.Sbi.StateOf(1));
        Assert.NotEqual(0, rig.Harts[1].State->Wfi);
        Assert.True(rig.StopAll(TimeSpan.FromSeconds(10)));
    }

    /// <summary>
    /// Hart 1 (on its thread) loads through a translation, then sleeps; the mapping is removed and hart 0 asks
    /// for a remote sfence.vma. Afterwards hart 1's TLB no longer translates the address. Without the fence,
    /// the stale entry would still be used (the control case), so the test can see a missing flush.
    /// </summary>
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Remote_sfence_vma_drops_the_targets_stale_translation(bool fence)
    {
        using var rig = new SbiTestRig(harts: 2);
        // Sv39, 1 GiB leaves: VA 0 -> PA 0x8000_0000 (the one to remove) and VA 0x8000_0000 identity (code).
        ulong table = SbiTestRig.RamBase + 0x8_0000;
        const ulong Leaf = 0xcf; // V R W X A D
        Assert.True(rig.Memory.TryWriteU64(table, (0x8000_0000UL >> 12) << 10 | Leaf));
        Assert.True(rig.Memory.TryWriteU64(table + 16, (0x8000_0000UL >> 12) << 10 | Leaf));
        ulong code = SbiTestRig.RamBase + 0x7000;
        uint csrwSatpA1 = 0x180u << 20 | Rv.A1 << 15 | 1 << 12 | 0x73;
        uint ldT0 = 0x100u << 20 | 3 << 12 | 5 << 7 | 0x03;
        rig.Code(code, csrwSatpA1, ldT0, Rv.Wfi, Rv.Jal(0, -4));
        rig.RunOnThread(1);
        Assert.Equal(0L, rig.Call(0, SbiExtension.Hsm, 0, 1, code, 8UL << 60 | table >> 12).Error);
        SbiTestRig.WaitUntil(() => rig.Harts[1].Stats.WfiSleeps > 0, "hart 1 to load and sleep");

        Assert.True(rig.Memory.TryWriteU64(table, 0));
        if (fence) Assert.Equal((0L, 0UL), rig.Call(0, SbiExtension.Rfence, 1, 0b10, 0, 0, 0x1000));
        Assert.True(rig.StopAll(TimeSpan.FromSeconds(10)));
        var target = rig.Harts[1];
        Assert.Equal(!fence, target.Mmu.Load64(0x100, out _));
        if (fence) Assert.Equal((byte)ExceptionCause.LoadPageFault, target.State->PendingCause);
    }

    [Fact]
    public void Remote_fence_errors()
    {
        using var rig = new SbiTestRig(harts: 2);
        Assert.Equal(SbiError.InvalidParam, rig.Call(0, SbiExtension.Rfence, 1, 0b100, 0, 0, 0).Error);
        Assert.Equal(SbiError.InvalidAddress, rig.Call(0, SbiExtension.Rfence, 1, 0b1, 0, ulong.MaxValue - 10, 100).Error);
        Assert.Equal(0L, rig.Call(0, SbiExtension.Rfence, 1, 0b1, 0, 0x1000, ulong.MaxValue).Error); // whole space
        for (ulong fid = 3; fid <= 6; fid++) // the HFENCE functions: no H extension
            Assert.Equal(SbiError.NotSupported, rig.Call(0, SbiExtension.Rfence, fid, 0b1, 0, 0, 0).Error);
    }

    /// <summary>
    /// Two harts flood each other with remote fences (each waits for the other while the other waits for it):
    /// both keep making progress and both stop when asked — no deadlock.
    /// </summary>
    [Fact]
    public void Harts_fencing_each_other_never_deadlock()
    {
        using var rig = new SbiTestRig(harts: 2);
        ulong loop = SbiTestRig.RamBase + 0x8000;
        uint[] body =
        [
            .. Rv.LoadA7(SbiExtension.Rfence),
            Rv.Addi(Rv.A6, 0, 1), Rv.Addi(Rv.A0, 0, 0b11), Rv.Addi(Rv.A1, 0, 0), Rv.Addi(Rv.A2, 0, 0),
            Rv.Addi(Rv.A3, 0, 0), Rv.Ecall, Rv.Addi(Rv.S0, Rv.S0, 1),
        ];
        rig.Code(loop, [.. body, Rv.Jal(0, -4 * body.Length)]);
        rig.Harts[0].State->Pc = loop;
        rig.RunOnThread(1);
        Assert.Equal(0L, rig.Call(0, SbiExtension.Hsm, 0, 1, loop, 0).Error);
        rig.RunOnThread(0);
        Thread.Sleep(1000);
        Assert.True(rig.StopAll(TimeSpan.FromSeconds(10)), "a hart did not stop: deadlock");
        ulong n0 = rig.X(0, Rv.S0), n1 = rig.X(1, Rv.S0);
        Assert.True(n0 > 10 && n1 > 10, $"progress: hart0 {n0}, hart1 {n1}");
        Assert.True(rig.Harts[0].Stats.RemoteFences > 0 && rig.Harts[1].Stats.RemoteFences > 0);
    }
}
