using System.Text;
using Trapeze.Devices.Irq;
using Trapeze.Devices.Rtc;
using Trapeze.Devices.Serial;
using Trapeze.Core.Cpu;
using Trapeze.Core.Memory;
using Trapeze.Devices.Virtio;
using Trapeze.Devices.Virtio.Block;
using Trapeze.Devices.Virtio.Console;
using Trapeze.Devices.Virtio.Net;
using Trapeze.Devices.Virtio.Rng;

namespace Trapeze.Devices.Tests;

/// <summary>Each device's State record (snapshots): captured from a device a guest has used, restored into a
/// new device, the new one behaves as the old one would have — registers, pending interrupts, queues.</summary>
public sealed class DeviceStateTests : IDisposable
{
    private readonly FakeGuestRam _ram = new(4 << 20);
    private readonly List<IDisposable> _owned = [];

    public void Dispose()
    {
        foreach (var d in _owned) d.Dispose();
        _ram.Dispose();
    }

    private static void Write32(IMmioDevice d, ulong offset, uint v) => Assert.True(d.Write(offset, 4, v));

    private static uint Read32(IMmioDevice d, ulong offset)
    {
        Assert.True(d.Read(offset, 4, out ulong v));
        return (uint)v;
    }

    [Fact]
    public void Plic_state_round_trips_with_claims_and_drives_the_new_harts()
    {
        var harts = FakeHartPins.Create(2);
        var plic = new Plic(harts);
        Write32(plic, 4 * 10, 5);                 // priority of source 10
        Write32(plic, 4 * 3, 2);                  // priority of source 3
        Write32(plic, 0x2000 + 0x80 * 1, (1u << 10) | (1u << 3)); // hart 0 S-mode enables
        plic.SetIrqLevel(10, true);
        plic.SetIrqLevel(3, true);
        Assert.Equal(10u, Read32(plic, 0x20_0000 + 0x1000 * 1 + 4)); // claim 10: in service
        PlicState saved = plic.SaveState();

        var newHarts = FakeHartPins.Create(2);
        var copy = new Plic(newHarts);
        copy.RestoreState(saved);
        Assert.Equal(saved, copy.SaveState() with { }, PlicStateComparer.Instance);
        Assert.True(newHarts[0].Seip);            // source 3 still pending and enabled
        Assert.False(newHarts[0].Meip);
        Assert.Equal(3u, Read32(copy, 0x20_0000 + 0x1000 * 1 + 4));
        Write32(copy, 0x20_0000 + 0x1000 * 1 + 4, 10); // completing 10 reopens its gateway: the level is high
        Assert.Equal(10u, Read32(copy, 0x20_0000 + 0x1000 * 1 + 4));
        Assert.Throws<ArgumentException>(() => new Plic(FakeHartPins.Create(1)).RestoreState(saved));
    }

    [Fact]
    public void Aclint_state_round_trips_and_hands_the_harts_their_compare_values()
    {
        var clock = new MachineClock();
        var clint = new Aclint(FakeHartPins.Create(2), clock);
        Write32(clint, 4, 1);                                  // msip of hart 1
        Assert.True(clint.Write(Aclint.MtimecmpBase, 8, 0x1234_5678_9abc));
        AclintState saved = clint.SaveState();

        var harts = FakeHartPins.Create(2);
        var copy = new Aclint(harts, clock);
        copy.RestoreState(saved);
        Assert.True(harts[1].Msip);
        Assert.False(harts[0].Msip);
        Assert.Equal(0x1234_5678_9abcUL, harts[0].Mtimecmp);
        Assert.Equal(0UL, harts[1].Mtimecmp);
        Assert.Equal(saved.Msip.ToArray(), copy.SaveState().Msip.ToArray());
        Assert.Equal(saved.Mtimecmp.ToArray(), copy.SaveState().Mtimecmp.ToArray());
        Assert.Throws<ArgumentException>(() => new Aclint(FakeHartPins.Create(3), clock).RestoreState(saved));
    }

    [Fact]
    public void Machine_clock_stands_still_while_paused_and_restores_its_value()
    {
        var clock = new MachineClock();
        clock.Set(1000);
        clock.Pause();
        ulong a = clock.Now;
        Thread.Sleep(20);
        Assert.Equal(a, clock.Now);
        MachineClockState saved = clock.SaveState();
        var copy = new MachineClock();
        copy.Pause();
        copy.RestoreState(saved);
        Thread.Sleep(5);
        Assert.Equal(a, copy.Now);
        copy.Resume();
        Thread.Sleep(5);
        Assert.True(copy.Now > a);
    }

    [Fact]
    public void Ns16550_state_round_trips_with_fifo_backlog_and_interrupt()
    {
        var sink = new FakeIrqSink();
        var output = new List<byte>();
        var uart = new Ns16550(sink.Line(10), output.Add, backlogCapacity: 64);
        Assert.True(uart.Write(2, 1, 0xc1));     // FIFOs on, trigger level 14
        Assert.True(uart.Write(1, 1, 0x01));     // receive interrupt
        Assert.True(uart.Write(7, 1, 0x5a));     // scratch
        Assert.Equal(40, uart.TryEnqueueInput(Encoding.ASCII.GetBytes(new string('x', 20) + new string('y', 20))));
        Assert.True(uart.Read(0, 1, out ulong first));
        Assert.Equal((ulong)'x', first);
        Ns16550State saved = uart.SaveState();
        Assert.Equal(16, saved.ReceiveFifo.Length);
        Assert.Equal(23, saved.Backlog.Length);

        var sink2 = new FakeIrqSink();
        var copy = new Ns16550(sink2.Line(10), _ => { }, backlogCapacity: 64);
        copy.RestoreState(saved);
        Assert.True(sink2.Level(10));
        var readBack = new StringBuilder();
        for (int i = 0; i < 39; i++)
        {
            Assert.True(copy.Read(0, 1, out ulong b));
            readBack.Append((char)b);
        }
        Assert.Equal(new string('x', 19) + new string('y', 20), readBack.ToString());
        Assert.True(copy.Read(7, 1, out ulong scratch));
        Assert.Equal(0x5aUL, scratch);
        Assert.False(sink2.Level(10));
        Assert.Throws<ArgumentException>(() => new Ns16550(sink2.Line(10), _ => { }, backlogCapacity: 8).RestoreState(saved));
    }

    [Fact]
    public void Goldfish_rtc_state_keeps_the_offset_and_rearms_the_alarm()
    {
        var time = new ManualTimeProvider(DateTimeOffset.UnixEpoch.AddDays(20000));
        var sink = new FakeIrqSink();
        var rtc = new GoldfishRtc(sink.Line(11), time);
        Write32(rtc, 0x04, 0x10);                 // TIME_HIGH: the guest sets its clock forward
        ulong guestNow = rtc.Now;
        Write32(rtc, 0x10, 1);                    // IRQ_ENABLED
        Write32(rtc, 0x0c, (uint)((guestNow + 5_000_000_000) >> 32));
        Write32(rtc, 0x08, (uint)(guestNow + 5_000_000_000)); // alarm in 5 s
        GoldfishRtcState saved = rtc.SaveState();
        Assert.True(saved.AlarmRunning);

        var sink2 = new FakeIrqSink();
        var copy = new GoldfishRtc(sink2.Line(11), time);
        copy.RestoreState(saved);
        Assert.Equal(guestNow, copy.Now);
        Assert.False(sink2.Level(11));
        time.Advance(TimeSpan.FromSeconds(6));
        Assert.True(sink2.Level(11));
        Assert.Equal(1u, Read32(copy, 0x10));
        rtc.Dispose();
        copy.Dispose();
    }

    private (VirtioMmioTransport Transport, TestDriver Driver) Slot(IVirtioDevice device, FakeIrqSink sink)
    {
        var t = new VirtioMmioTransport("virtio-test", _ram.Memory, sink.Line(1), device);
        _owned.Add(t);
        return (t, new TestDriver(t, _ram));
    }

    [Fact]
    public void Virtio_transport_state_round_trips_and_the_new_device_serves_the_same_rings()
    {
        var sink = new FakeIrqSink();
        var (transport, driver) = Slot(new VirtioRng(), sink);
        DriverQueue q = driver.Start()[0];
        ulong a = _ram.Alloc(32);
        q.Add(Buffer.In(a, 32));
        Assert.Equal(32u, q.Complete().Len);
        transport.Pause(); // the run that used the buffer has also raised the interrupt by now
        Assert.True(sink.Level(1));
        ulong b = _ram.Alloc(16);
        q.Add(Buffer.In(b, 16));
        q.Kick();                                  // kept while paused: no DMA
        Thread.Sleep(20);
        Assert.Equal(1, q.UsedIdx);
        VirtioMmioState? saved = transport.SaveState();
        Assert.NotNull(saved);
        Assert.Equal(1, saved.Queues[0].LastAvail);
        Assert.Equal(1, saved.Queues[0].UsedIndex);
        Assert.True(saved.Queues[0].Active);

        // The new device picks up where the old one stopped, and serves the request the old one held.
        var sink2 = new FakeIrqSink();
        var (copy, _) = Slot(new VirtioRng(), sink2);
        copy.Pause();
        copy.RestoreState(saved);
        Assert.True(sink2.Level(1));               // the interrupt not yet acknowledged
        Assert.Equal(saved with { }, copy.SaveState(), VirtioStateComparer.Instance);
        copy.Resume();
        Assert.True(copy.WaitForIdle(TimeSpan.FromSeconds(10)));
        Assert.Equal(2, q.UsedIdx);
        Assert.Contains(_ram.Span(b, 16).ToArray(), x => x != 0);

        // A state for another device, or rings outside this machine's RAM, are refused without change.
        var (console, _) = Slot(new VirtioConsole(_ => { }), new FakeIrqSink());
        Assert.Throws<ArgumentException>(() => console.RestoreState(saved));
        var outside = saved with { Queues = [saved.Queues[0] with { Desc = 0x1_0000_0000 }] };
        var (fresh, _) = Slot(new VirtioRng(), new FakeIrqSink());
        Assert.Throws<ArgumentException>(() => fresh.RestoreState(outside));
        Assert.Equal(0u, (uint)fresh.Status);
    }

    [Fact]
    public void Virtio_console_keeps_pending_input_and_virtio_net_its_mac()
    {
        var console = new VirtioConsole(_ => { });
        Assert.Equal(5, console.TryEnqueueInput("hello"u8));
        var saved = Assert.IsType<VirtioConsoleState>(((IVirtioDevice)console).SaveState());
        var copy = new VirtioConsole(_ => { });
        ((IVirtioDevice)copy).RestoreState(saved);
        Assert.Equal(5, copy.BacklogCount);
        Assert.Equal("hello"u8.ToArray(), Assert.IsType<VirtioConsoleState>(((IVirtioDevice)copy).SaveState()).PendingInput.ToArray());

        using var net = new VirtioNet(new FakeNetBackend(), VirtioNet.GenerateMac());
        var netState = Assert.IsType<VirtioNetState>(((IVirtioDevice)net).SaveState());
        using var net2 = new VirtioNet(new FakeNetBackend(), VirtioNet.GenerateMac());
        ((IVirtioDevice)net2).RestoreState(netState);
        Assert.Equal(net.Mac.ToArray(), net2.Mac.ToArray());
        Assert.Throws<ArgumentException>(() => ((IVirtioDevice)net2).RestoreState(saved));
        Assert.Null(((IVirtioDevice)new VirtioBlock(new MemoryDiskImage(4096))).SaveState());
    }

    private sealed class PlicStateComparer : IEqualityComparer<PlicState>
    {
        public static readonly PlicStateComparer Instance = new();

        public bool Equals(PlicState? x, PlicState? y) => x != null && y != null
            && x.Priority.SequenceEqual(y.Priority) && x.Pending.SequenceEqual(y.Pending) && x.Claimed.SequenceEqual(y.Claimed)
            && x.Level.SequenceEqual(y.Level) && x.Enable.SequenceEqual(y.Enable) && x.Threshold.SequenceEqual(y.Threshold);

        public int GetHashCode(PlicState obj) => 0;
    }

    private sealed class VirtioStateComparer : IEqualityComparer<VirtioMmioState?>
    {
        public static readonly VirtioStateComparer Instance = new();

        public bool Equals(VirtioMmioState? x, VirtioMmioState? y) => x != null && y != null
            && x with { Queues = [] } == y with { Queues = [] } && x.Queues.SequenceEqual(y.Queues);

        public int GetHashCode(VirtioMmioState? obj) => 0;
    }
}
