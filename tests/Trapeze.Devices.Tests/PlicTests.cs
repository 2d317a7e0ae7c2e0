using Trapeze.Devices.Irq;

namespace Trapeze.Devices.Tests;

public sealed class PlicTests
{
    private const ulong Pending = 0x1000;
    private static ulong Priority(int source) => (ulong)source * 4;
    private static ulong Enable(int context, int word = 0) => 0x2000 + (ulong)context * 0x80 + (ulong)word * 4;
    private static ulong Threshold(int context) => 0x20_0000 + (ulong)context * 0x1000;
    private static ulong Claim(int context) => Threshold(context) + 4;

    private static uint Read(Plic plic, ulong offset)
    {
        Assert.True(plic.Read(offset, 4, out ulong value));
        return (uint)value;
    }

    private static void Write(Plic plic, ulong offset, uint value) => Assert.True(plic.Write(offset, 4, value));

    [Fact]
    public void Source_with_priority_and_enable_raises_the_contexts_pin()
    {
        FakeHartPins[] harts = FakeHartPins.Create(2);
        var plic = new Plic(harts);
        IrqLine uart = plic.Line(10);

        uart.Raise();
        Assert.False(harts[0].Seip); // priority 0 never interrupts
        Assert.Equal(1u << 10, Read(plic, Pending));

        Write(plic, Priority(10), 1);
        Assert.False(harts[0].Seip); // not enabled yet
        Write(plic, Enable(1), 1u << 10); // context 1 = hart 0 S-mode
        Assert.True(harts[0].Seip);
        Assert.False(harts[0].Meip);
        Assert.False(harts[1].Seip);

        Write(plic, Enable(3), 1u << 10); // hart 1 S-mode
        Assert.True(harts[1].Seip);
    }

    [Fact]
    public void Claim_returns_the_source_clears_pending_and_complete_reopens_the_gateway()
    {
        FakeHartPins[] harts = FakeHartPins.Create(1);
        var plic = new Plic(harts);
        Write(plic, Priority(10), 1);
        Write(plic, Enable(0), 1u << 10);
        plic.SetIrqLevel(10, true);
        Assert.True(harts[0].Meip);

        Assert.Equal(10u, Read(plic, Claim(0)));
        Assert.False(harts[0].Meip);
        Assert.Equal(0u, Read(plic, Pending));
        Assert.Equal(0u, Read(plic, Claim(0))); // nothing else

        // Still high at completion: a level-triggered source is pending again.
        Write(plic, Claim(0), 10);
        Assert.True(harts[0].Meip);
        Assert.Equal(10u, Read(plic, Claim(0)));

        // Lowered while in service: completion leaves nothing pending.
        plic.SetIrqLevel(10, false);
        Write(plic, Claim(0), 10);
        Assert.False(harts[0].Meip);
        Assert.Equal(0u, Read(plic, Pending));
    }

    [Fact]
    public void Claim_picks_highest_priority_then_lowest_id()
    {
        var plic = new Plic(FakeHartPins.Create(1));
        foreach (int source in new[] { 3, 5, 40 })
        {
            Write(plic, Enable(0, source >> 5), Read(plic, Enable(0, source >> 5)) | 1u << (source & 31));
            plic.SetIrqLevel(source, true);
        }
        Write(plic, Priority(3), 2);
        Write(plic, Priority(5), 2);
        Write(plic, Priority(40), 6);

        Assert.Equal(40u, Read(plic, Claim(0)));
        Assert.Equal(3u, Read(plic, Claim(0)));
        Assert.Equal(5u, Read(plic, Claim(0)));
        Assert.Equal(0u, Read(plic, Claim(0)));
        Assert.Equal(0u, Read(plic, Pending + 4)); // source 40's pending bit went with its claim
    }

    [Fact]
    public void Threshold_masks_priorities_at_or_below_it()
    {
        FakeHartPins[] harts = FakeHartPins.Create(1);
        var plic = new Plic(harts);
        Write(plic, Priority(7), 3);
        Write(plic, Enable(1), 1u << 7);
        plic.SetIrqLevel(7, true);
        Assert.True(harts[0].Seip);

        Write(plic, Threshold(1), 3);
        Assert.False(harts[0].Seip);
        Assert.Equal(0u, Read(plic, Claim(1)));
        Assert.Equal(3u, Read(plic, Threshold(1)));

        Write(plic, Threshold(1), 2);
        Assert.True(harts[0].Seip);
        Assert.Equal(7u, Read(plic, Claim(1)));
    }

    [Fact]
    public void Enables_are_per_context()
    {
        FakeHartPins[] harts = FakeHartPins.Create(2);
        var plic = new Plic(harts);
        Write(plic, Priority(1), 1);
        Write(plic, Priority(2), 1);
        Write(plic, Enable(0), 1u << 1); // hart 0 M: source 1
        Write(plic, Enable(3), 1u << 2); // hart 1 S: source 2
        plic.SetIrqLevel(2, true);
        Assert.False(harts[0].Meip);
        Assert.True(harts[1].Seip);
        Assert.Equal(0u, Read(plic, Claim(0)));
        Assert.Equal(2u, Read(plic, Claim(3)));
        Assert.Equal(1u << 2, Read(plic, Enable(3)));
        Assert.Equal(0u, Read(plic, Enable(2)));
    }

    [Fact]
    public void A_source_enabled_in_two_contexts_is_claimed_once()
    {
        FakeHartPins[] harts = FakeHartPins.Create(2);
        var plic = new Plic(harts);
        Write(plic, Priority(9), 1);
        Write(plic, Enable(1), 1u << 9);
        Write(plic, Enable(3), 1u << 9);
        plic.SetIrqLevel(9, true);
        Assert.True(harts[0].Seip && harts[1].Seip);
        Assert.Equal(9u, Read(plic, Claim(3)));
        Assert.False(harts[0].Seip);
        Assert.Equal(0u, Read(plic, Claim(1)));
    }

    [Fact]
    public void Priorities_and_thresholds_keep_three_bits_and_source_zero_is_hardwired()
    {
        var plic = new Plic(FakeHartPins.Create(1));
        Write(plic, Priority(1), 0xffff_ffff);
        Assert.Equal(7u, Read(plic, Priority(1)));
        Write(plic, Priority(0), 5);
        Assert.Equal(0u, Read(plic, Priority(0)));
        Write(plic, Threshold(0), 0x1f);
        Assert.Equal(7u, Read(plic, Threshold(0)));
        // Enable bits exist only for sources 1..95: not for source 0, not beyond word 2.
        Write(plic, Enable(0, 0), 0xffff_ffff);
        Write(plic, Enable(0, 2), 0xffff_ffff);
        Write(plic, Enable(0, 3), 0xffff_ffff);
        Assert.Equal(0xffff_fffeu, Read(plic, Enable(0, 0)));
        Assert.Equal(0xffff_ffffu, Read(plic, Enable(0, 2)));
        Assert.Equal(0u, Read(plic, Enable(0, 3)));
        var small = new Plic(FakeHartPins.Create(1), sourceCount: 40);
        Write(small, Enable(0, 1), 0xffff_ffff);
        Assert.Equal(0x1ffu, Read(small, Enable(0, 1))); // sources 32..40
    }

    [Fact]
    public void Pending_is_read_only_and_follows_the_level_before_claim()
    {
        var plic = new Plic(FakeHartPins.Create(1));
        Write(plic, Pending, 0xffff_ffff);
        Assert.Equal(0u, Read(plic, Pending));
        plic.SetIrqLevel(4, true);
        Assert.Equal(1u << 4, Read(plic, Pending));
        plic.SetIrqLevel(4, false);
        Assert.Equal(0u, Read(plic, Pending));
    }

    [Fact]
    public void Completing_an_unclaimed_or_invalid_source_is_ignored()
    {
        FakeHartPins[] harts = FakeHartPins.Create(1);
        var plic = new Plic(harts);
        Write(plic, Claim(0), 0);
        Write(plic, Claim(0), 1000);
        Write(plic, Claim(0), 3);
        Write(plic, Priority(3), 1);
        Write(plic, Enable(0), 1u << 3);
        plic.SetIrqLevel(3, true);
        Assert.True(harts[0].Meip);
    }

    [Fact]
    public void Only_aligned_32_bit_accesses_are_accepted_and_the_window_is_bounded()
    {
        var plic = new Plic(FakeHartPins.Create(1));
        Assert.Equal(0x60_0000ul, plic.Size);
        Assert.False(plic.Read(0x4, 1, out _));
        Assert.False(plic.Read(0x4, 2, out _));
        Assert.False(plic.Read(0x4, 8, out _));
        Assert.False(plic.Read(0x6, 4, out _));
        Assert.False(plic.Write(0x4, 8, 1));
        Assert.False(plic.Read(0x60_0000, 4, out _));
        Assert.False(plic.Read(ulong.MaxValue - 3, 4, out _));
        // Unimplemented registers inside the window read zero (as QEMU): contexts that do not exist,
        // reserved words after claim/complete.
        Assert.True(plic.Read(Claim(5), 4, out ulong value));
        Assert.Equal(0ul, value);
        Assert.True(plic.Read(Threshold(0) + 8, 4, out value));
        Assert.Equal(0ul, value);
        Assert.True(plic.Write(0x5f_fffc, 4, 0xffff_ffff));
    }

    [Fact]
    public void Reset_clears_configuration_and_lowers_every_pin()
    {
        FakeHartPins[] harts = FakeHartPins.Create(1);
        var plic = new Plic(harts);
        Write(plic, Priority(5), 1);
        Write(plic, Enable(0), 1u << 5);
        plic.SetIrqLevel(5, true);
        Assert.True(harts[0].Meip);
        plic.Reset();
        Assert.False(harts[0].Meip);
        Assert.False(harts[0].Seip);
        Assert.Equal(0u, Read(plic, Priority(5)));
        Assert.Equal(0u, Read(plic, Enable(0)));
        Assert.Equal(1u << 5, Read(plic, Pending)); // the device still holds its line high
    }

    [Fact]
    public void Lines_are_validated_and_out_of_range_levels_ignored()
    {
        var plic = new Plic(FakeHartPins.Create(1));
        Assert.Throws<ArgumentOutOfRangeException>(() => plic.Line(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => plic.Line(96));
        Assert.Equal(95, plic.Line(95).Number);
        plic.SetIrqLevel(-1, true);
        plic.SetIrqLevel(1000, true);
        Assert.Equal(0u, Read(plic, Pending));
    }

    [Fact]
    public void Pins_are_driven_only_on_change()
    {
        FakeHartPins[] harts = FakeHartPins.Create(1);
        var plic = new Plic(harts);
        harts[0].Log.Clear();
        Write(plic, Priority(1), 1);
        Write(plic, Enable(0), 2);
        plic.SetIrqLevel(1, true);
        plic.SetIrqLevel(1, true);
        Write(plic, Priority(1), 2);
        Assert.Equal(["meip=True"], harts[0].Log);
    }

    [Fact]
    public async Task Concurrent_raise_claim_complete_loses_no_interrupt()
    {
        FakeHartPins[] harts = FakeHartPins.Create(2);
        var plic = new Plic(harts);
        for (int source = 1; source <= 8; source++)
        {
            Write(plic, Priority(source), 1);
        }
        Write(plic, Enable(1), 0x1fe);
        Write(plic, Enable(3), 0x1fe);

        const int rounds = 2000;
        var served = new int[9];
        var remaining = new int[9];
        var done = new ManualResetEventSlim[9];
        for (int s = 1; s <= 8; s++) done[s] = new ManualResetEventSlim(true);

        // Each device raises its line and lowers it when "serviced".
        var devices = Enumerable.Range(1, 8).Select(source => Task.Factory.StartNew(() =>
        {
            for (int i = 0; i < rounds; i++)
            {
                done[source].Wait();
                done[source].Reset();
                Interlocked.Increment(ref remaining[source]);
                plic.SetIrqLevel(source, true);
            }
        }, TaskCreationOptions.LongRunning)).ToArray();
        // Two "harts" claim, service (lower the line) and complete.
        using var stop = new CancellationTokenSource();
        var cpus = Enumerable.Range(0, 2).Select(hart => Task.Factory.StartNew(() =>
        {
            ulong claim = Claim(2 * hart + 1);
            while (!stop.IsCancellationRequested)
            {
                Assert.True(plic.Read(claim, 4, out ulong id));
                if (id == 0) { Thread.Yield(); continue; }
                int source = (int)id;
                Interlocked.Increment(ref served[source]);
                Interlocked.Decrement(ref remaining[source]);
                plic.SetIrqLevel(source, false);
                Assert.True(plic.Write(claim, 4, id));
                done[source].Set();
            }
        }, TaskCreationOptions.LongRunning)).ToArray();
        await Task.WhenAll(devices).WaitAsync(TimeSpan.FromSeconds(60));
        SpinWait.SpinUntil(() => Enumerable.Range(1, 8).All(s => Volatile.Read(ref remaining[s]) == 0), TimeSpan.FromSeconds(30));
        stop.Cancel();
        await Task.WhenAll(cpus).WaitAsync(TimeSpan.FromSeconds(10));
        for (int s = 1; s <= 8; s++) Assert.Equal(rounds, served[s]);
        Assert.False(harts[0].Seip);
        Assert.False(harts[1].Seip);
    }
}
