using System.Diagnostics;
using Trapeze.Core.Cpu;

namespace Trapeze.Machine.Tests.Snapshot;

/// <summary>Pause and resume of a running machine: harts, clock and devices held still, and Run going on.</summary>
public sealed class PauseTests
{
    [Fact]
    public void Pause_stops_the_harts_and_the_clock_and_resume_goes_on()
    {
        using var m = new SnapshotTestMachine(SnapshotTestMachine.CountingLoop, harts: 2);
        m.Start();
        m.WaitForA0(100_000);
        m.Machine.Pause();
        Assert.True(m.Machine.IsPaused);
        ulong a0 = m.A0(), a1 = m.A0(1), time = m.Machine.Clock.Now;
        Thread.Sleep(1000);
        Assert.Equal(a0, m.A0());
        Assert.Equal(a1, m.A0(1));
        Assert.Equal(time, m.Machine.Clock.Now); // guest time stands still
        m.Machine.Pause();                         // idempotent
        m.Machine.Resume();
        // The clock goes on from where it stood: the second of the pause is not added.
        Assert.True(m.Machine.Clock.Now - time < MachineClock.Frequency / 2, $"the clock jumped by {m.Machine.Clock.Now - time} ticks");
        Assert.False(m.Machine.IsPaused);
        m.WaitForA0(a0 + 100_000);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (m.A0(1) <= a1) Assert.True(DateTime.UtcNow < deadline, "hart 1 did not go on");
    }

    [Fact]
    public void A_hart_asleep_in_wfi_pauses_at_once()
    {
        using var m = new SnapshotTestMachine(SnapshotTestMachine.WfiLoop, harts: 2);
        m.Start();
        Thread.Sleep(200);
        var sw = Stopwatch.StartNew();
        m.Machine.Pause();
        Assert.True(sw.ElapsedMilliseconds < 2000, $"pause took {sw.ElapsedMilliseconds} ms");
        m.Machine.Resume();
        m.Machine.Pause();
        m.Machine.Resume();
    }

    [Fact]
    public void A_hart_thread_cannot_pause_its_own_machine()
    {
        Exception? refused = null;
        using var wrote = new ManualResetEventSlim(false);
        using var m = new SnapshotTestMachine(SnapshotTestMachine.UartLoop, output: (machine, _) =>
        {
            if (wrote.IsSet) return;
            try { machine.Pause(); }
            catch (InvalidOperationException e) { refused = e; }
            wrote.Set();
        });
        m.Start();
        Assert.True(wrote.Wait(TimeSpan.FromSeconds(10)), "the program wrote nothing");
        Assert.NotNull(refused);
        m.Machine.Pause(); // from any other thread it works
        Assert.True(m.Machine.IsPaused);
    }

    [Fact]
    public void A_machine_paused_before_it_runs_waits_in_run_for_resume()
    {
        using var m = new SnapshotTestMachine(SnapshotTestMachine.CountingLoop);
        m.Machine.Pause();
        Task<int> run = m.Start();
        Thread.Sleep(100);
        Assert.False(run.IsCompleted);
        Assert.Equal(0UL, m.A0());
        m.Machine.Resume();
        m.WaitForA0(1000);
    }

    [Fact]
    public async Task Disposing_a_paused_machine_ends_its_run()
    {
        using var m = new SnapshotTestMachine(SnapshotTestMachine.CountingLoop);
        Task<int> run = m.Start();
        m.WaitForA0(1000);
        m.Machine.Pause();
        m.Machine.Dispose(); // and again by the test machine: disposing twice is harmless
        Assert.Same(run, await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(10))));
        Assert.Equal(1, await run);
    }

    [Fact]
    public async Task A_power_off_while_paused_ends_run()
    {
        using var m = new SnapshotTestMachine(SnapshotTestMachine.CountingLoop);
        Task<int> run = m.Start();
        m.WaitForA0(1000);
        m.Machine.Pause();
        m.Machine.RequestPower(new Trapeze.Devices.Power.PowerRequest(Trapeze.Devices.Power.PowerRequestKind.PowerOff, 0));
        Assert.Same(run, await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(10))));
        Assert.Equal(0, await run);
        Assert.True(m.Machine.IsPaused);
    }
}
