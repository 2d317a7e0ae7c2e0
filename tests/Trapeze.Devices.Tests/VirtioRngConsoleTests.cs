using System.Text;
using Trapeze.Devices.Virtio;
using Trapeze.Devices.Virtio.Console;
using Trapeze.Devices.Virtio.Rng;

namespace Trapeze.Devices.Tests;

/// <summary>virtio-rng (§5.4) and virtio-console (§5.3) through the transport.</summary>
public sealed class VirtioRngConsoleTests : IDisposable
{
    private readonly FakeGuestRam _ram = new(4 << 20);
    private readonly FakeIrqSink _sink = new();
    private readonly List<VirtioMmioTransport> _transports = [];
    private readonly List<byte> _output = [];

    public void Dispose()
    {
        foreach (var t in _transports) t.Dispose();
        _ram.Dispose();
    }

    private TestDriver Driver(IVirtioDevice device)
    {
        var t = new VirtioMmioTransport("virtio-test", _ram.Memory, _sink.Line(1), device);
        _transports.Add(t);
        return new TestDriver(t, _ram);
    }

    private string Output
    {
        get { lock (_output) return Encoding.ASCII.GetString([.. _output]); }
    }

    private VirtioConsole NewConsole(int backlog = VirtioConsole.DefaultBacklogCapacity) =>
        new(data => { lock (_output) _output.AddRange(data.ToArray()); }, backlog);

    [Fact]
    public void Rng_fills_the_writable_buffers()
    {
        var rng = new VirtioRng();
        DriverQueue q = Driver(rng).Start()[0];
        ulong a = _ram.Alloc(64), b = _ram.Alloc(64);
        q.Add(Buffer.In(a, 64), Buffer.In(b, 64));
        Assert.Equal(128u, q.Complete().Len);
        Assert.Contains(_ram.Span(a, 64).ToArray(), x => x != 0);
        Assert.Contains(_ram.Span(b, 64).ToArray(), x => x != 0);
        Assert.False(_ram.Span(a, 64).SequenceEqual(_ram.Span(b, 64)));
        Assert.Equal(128, rng.BytesProvided);
    }

    [Fact]
    public void Dma_into_the_writable_buffers_and_the_used_ring_marks_their_pages_dirty()
    {
        DriverQueue q = Driver(new VirtioRng()).Start()[0];
        ulong a = _ram.Alloc(0x3000, 0x1000) + 0xff0;   // straddles two pages
        _ram.Ram.StartDirtyLog();
        q.Add(Buffer.In(a, 0x20));
        Assert.Equal(0x20u, q.Complete().Len);
        Assert.True(_ram.Ram.IsDirty(_ram.Ram.PageOf(a)));
        Assert.True(_ram.Ram.IsDirty(_ram.Ram.PageOf(a + 0x1f)));
        Assert.True(_ram.Ram.IsDirty(_ram.Ram.PageOf(q.Used)));
        // The allocation's third page was not written.
        Assert.False(_ram.Ram.IsDirty(_ram.Ram.PageOf(a + 0x1010)));
        _ram.Ram.StopDirtyLog();
    }

    [Fact]
    public void Rng_caps_a_huge_request_and_says_how_much_it_wrote()
    {
        DriverQueue q = Driver(new VirtioRng()).Start()[0];
        ulong a = _ram.Alloc(1 << 20);
        q.Add(Buffer.In(a, 1 << 20));
        Assert.Equal((uint)VirtioRng.MaxBytesPerRequest, q.Complete().Len);
        Assert.All(_ram.Span(a + VirtioRng.MaxBytesPerRequest, 4096).ToArray(), x => Assert.Equal(0, x));
    }

    [Fact]
    public void Rng_ignores_readable_buffers()
    {
        DriverQueue q = Driver(new VirtioRng()).Start()[0];
        ulong a = _ram.Alloc(16);
        q.Add(Buffer.Out(a, 16));
        Assert.Equal(0u, q.Complete().Len);
        Assert.All(_ram.Span(a, 16).ToArray(), x => Assert.Equal(0, x));
    }

    [Fact]
    public void Console_transmits_to_the_output()
    {
        DriverQueue[] q = Driver(NewConsole()).Start();
        ulong a = _ram.Alloc(6), b = _ram.Alloc(6);
        Encoding.ASCII.GetBytes("hello ").CopyTo(_ram.Span(a, 6));
        Encoding.ASCII.GetBytes("world\n").CopyTo(_ram.Span(b, 6));
        q[VirtioConsole.TransmitQueue].Add(Buffer.Out(a, 6), Buffer.Out(b, 6));
        Assert.Equal(0u, q[VirtioConsole.TransmitQueue].Complete().Len);
        Assert.Equal("hello world\n", Output);
    }

    [Fact]
    public void Console_input_waits_for_receive_buffers()
    {
        VirtioConsole console = NewConsole();
        TestDriver driver = Driver(console);
        Assert.False(console.IsDriverReady);
        DriverQueue[] q = driver.Start();
        Assert.True(console.IsDriverReady);
        DriverQueue rx = q[VirtioConsole.ReceiveQueue];
        Assert.Equal(10, console.TryEnqueueInput("0123456789"u8));
        Assert.True(driver.WaitIdle());
        Assert.Equal(0, rx.UsedIdx); // no buffer yet
        ulong a = _ram.Alloc(4), b = _ram.Alloc(16);
        rx.Add(Buffer.In(a, 4));
        rx.Add(Buffer.In(b, 16));
        rx.Kick();
        var used = rx.WaitUsed(2);
        Assert.Equal(4u, used[0].Len);
        Assert.Equal(6u, used[1].Len);
        Assert.Equal("0123", Encoding.ASCII.GetString(_ram.Span(a, 4)));
        Assert.Equal("456789", Encoding.ASCII.GetString(_ram.Span(b, 6)));
        Assert.Equal(0, console.BacklogCount);
        // With a buffer posted, input goes straight in.
        ulong c = _ram.Alloc(8);
        rx.Add(Buffer.In(c, 8));
        rx.Kick();
        Assert.True(driver.WaitIdle());
        console.TryEnqueueInput("ok"u8);
        Assert.Equal(2u, rx.WaitUsed()[0].Len);
        Assert.Equal("ok", Encoding.ASCII.GetString(_ram.Span(c, 2)));
    }

    [Fact]
    public void Console_backlog_is_bounded()
    {
        VirtioConsole console = NewConsole(backlog: 8);
        Assert.Equal(8, console.TryEnqueueInput("0123456789"u8));
        Assert.Equal(0, console.TryEnqueueInput("x"u8));
        Assert.Equal(8, console.BacklogCount);
    }

    [Fact]
    public void Console_emergency_write_outputs_at_once()
    {
        TestDriver d = Driver(NewConsole());
        Assert.NotEqual(0ul, d.DeviceFeatures & VirtioConsole.FeatureEmergencyWrite);
        Assert.True(d.Transport.Write(Mmio.Config + VirtioConsole.EmergencyWriteOffset, 4, 'E'));
        Assert.True(d.Transport.Write(Mmio.Config + VirtioConsole.EmergencyWriteOffset, 1, '!'));
        Assert.True(d.Transport.Write(Mmio.Config, 4, 'x')); // cols: read-only
        Assert.Equal("E!", Output);
    }
}
