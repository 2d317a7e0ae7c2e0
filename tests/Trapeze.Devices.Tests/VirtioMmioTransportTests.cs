using Trapeze.Devices.Fdt;
using Trapeze.Devices.Virtio;
using Trapeze.Devices.Virtio.Block;
using Trapeze.Devices.Virtio.Rng;

namespace Trapeze.Devices.Tests;

/// <summary>The virtio-mmio transport at register level (virtio 1.2 §4.2.2), with no guest running.</summary>
public sealed class VirtioMmioTransportTests : IDisposable
{
    private const int Irq = 3;
    private readonly FakeGuestRam _ram = new();
    private readonly FakeIrqSink _sink = new();
    private readonly List<VirtioMmioTransport> _transports = [];

    public void Dispose()
    {
        foreach (var t in _transports) t.Dispose();
        _ram.Dispose();
    }

    private TestDriver Driver(IVirtioDevice? device)
    {
        var t = new VirtioMmioTransport("virtio-test", _ram.Memory, _sink.Line(Irq), device);
        _transports.Add(t);
        return new TestDriver(t, _ram);
    }

    private TestDriver Block(out MemoryDiskImage disk, bool readOnly = false)
    {
        disk = new MemoryDiskImage(64 * 1024, readOnly);
        return Driver(new VirtioBlock(disk, "serial-1"));
    }

    [Fact]
    public void Identifies_itself_as_a_version_2_transport()
    {
        var d = Driver(new VirtioRng());
        Assert.Equal(0x74726976u, d.Read(Mmio.MagicValue));
        Assert.Equal(2u, d.Read(Mmio.Version));
        Assert.Equal(4u, d.Read(Mmio.DeviceId));
        Assert.Equal(0x554d4551u, d.Read(Mmio.VendorId));
    }

    [Fact]
    public void An_empty_slot_reads_device_id_0_and_ignores_writes()
    {
        var d = Driver(null);
        Assert.Equal(0x74726976u, d.Read(Mmio.MagicValue));
        Assert.Equal(2u, d.Read(Mmio.Version));
        Assert.Equal(0u, d.Read(Mmio.DeviceId));
        d.Write(Mmio.Status, 0xf);
        d.Write(Mmio.QueueNotify, 0);
        Assert.Equal(0u, d.Status);
        Assert.Equal(0u, d.Read(Mmio.QueueNumMax));
        Assert.Equal(0u, d.Read(Mmio.DeviceFeatures));
        Assert.True(d.Transport.Read(Mmio.Config, 4, out ulong config));
        Assert.Equal(0ul, config);
        Assert.False(_sink.Level(Irq));
    }

    [Fact]
    public void Offers_version_1_indirect_and_event_idx_beside_the_device_features()
    {
        var d = Block(out _);
        ulong f = d.DeviceFeatures;
        Assert.Equal(VirtioFeatures.Transport, f & VirtioFeatures.Transport);
        Assert.NotEqual(0ul, f & VirtioBlock.FeatureFlush);
        Assert.Equal(0ul, f & VirtioBlock.FeatureReadOnly);
        d.Write(Mmio.DeviceFeaturesSel, 2);
        Assert.Equal(0u, d.Read(Mmio.DeviceFeatures));
    }

    [Fact]
    public void Features_ok_needs_version_1()
    {
        var d = Block(out _);
        Assert.False(d.Negotiate(VirtioBlock.FeatureFlush));
        Assert.Equal((uint)(DeviceStatus.Acknowledge | DeviceStatus.Driver), d.Status);
        Assert.True(d.Negotiate(VirtioFeatures.Version1));
    }

    [Fact]
    public void Features_ok_refuses_features_that_were_not_offered()
    {
        var d = Driver(new VirtioRng());
        Assert.False(d.Negotiate(VirtioFeatures.Version1 | (1UL << 7)));
        Assert.False(d.Negotiate(VirtioFeatures.Version1 | (1UL << 40)));
        Assert.True(d.Negotiate(VirtioFeatures.Version1 | VirtioFeatures.RingEventIdx));
        Assert.Equal(VirtioFeatures.Version1 | VirtioFeatures.RingEventIdx, d.Transport.NegotiatedFeatures);
    }

    [Fact]
    public void Driver_features_are_frozen_once_features_ok_is_set()
    {
        var d = Driver(new VirtioRng());
        Assert.True(d.Negotiate(VirtioFeatures.Version1));
        d.Write(Mmio.DriverFeaturesSel, 0);
        d.Write(Mmio.DriverFeatures, (uint)VirtioFeatures.RingIndirectDesc);
        Assert.Equal(VirtioFeatures.Version1, d.Transport.NegotiatedFeatures);
    }

    [Fact]
    public void Driver_ok_before_features_ok_is_refused()
    {
        var d = Driver(new VirtioRng());
        d.Write(Mmio.Status, (uint)(DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.DriverOk));
        Assert.Equal((uint)(DeviceStatus.Acknowledge | DeviceStatus.Driver), d.Status);
        Assert.False(d.Transport.IsDriverReady);
    }

    [Fact]
    public void Writing_zero_to_status_resets_everything()
    {
        var d = Driver(new VirtioRng());
        DriverQueue q = d.Start()[0];
        ulong buffer = _ram.Alloc(16);
        q.Add(Buffer.In(buffer, 16));
        q.Complete();
        Assert.True(_sink.Level(Irq));
        d.Write(Mmio.Status, 0);
        Assert.Equal(0u, d.Status);
        Assert.Equal(0u, d.Read(Mmio.InterruptStatus));
        Assert.False(_sink.Level(Irq));
        Assert.Equal(0ul, d.Transport.NegotiatedFeatures);
        d.Write(Mmio.QueueSel, 0);
        Assert.Equal(0u, d.Read(Mmio.QueueReady));
        Assert.Equal(64u, d.Read(Mmio.QueueNumMax));
        // The device works again after a fresh initialisation.
        q = d.Start()[0];
        q.Add(Buffer.In(buffer, 16));
        Assert.Equal(16u, q.Complete().Len);
    }

    public static TheoryData<string, uint, long, long, long> BadQueues() => new()
    {
        { "size not a power of two", 48, 0, 0x1000, 0x2000 },
        { "size above QueueNumMax", 512, 0, 0x2000, 0x3000 },
        { "size zero", 0, 0, 0x1000, 0x2000 },
        { "descriptor table misaligned", 64, 8, 0x1000, 0x2000 },
        { "avail ring misaligned", 64, 0, 0x1001, 0x2000 },
        { "used ring misaligned", 64, 0, 0x1000, 0x2002 },
        { "descriptor table outside RAM", 64, -0x100, 0x1000, 0x2000 },
        { "used ring runs off the end of RAM", 64, 0, 0x1000, (1 << 20) - 0x100 },
        { "used ring in read-only memory", 64, 0, 0x1000, -0x7fff_f000 },
    };

    [Theory]
    [MemberData(nameof(BadQueues))]
    public void A_queue_that_cannot_work_stays_off_and_asks_for_a_reset(string what, uint size, long desc, long avail, long used)
    {
        var d = Block(out _);
        Assert.True(d.Negotiate(d.DeviceFeatures));
        ulong b = FakeGuestRam.RamBase;
        d.ProgramQueue(0, size, (ulong)((long)b + desc), (ulong)((long)b + avail), (ulong)((long)b + used));
        d.Write(Mmio.QueueReady, 1);
        Assert.True(d.Read(Mmio.QueueReady) == 0, what);
        Assert.True((d.Status & (uint)DeviceStatus.DeviceNeedsReset) != 0, what);
        Assert.Equal(VirtQueueError.BadQueueConfiguration, d.Transport.Failure);
    }

    [Fact]
    public void Queue_registers_are_ignored_while_the_queue_is_ready()
    {
        var d = Block(out _);
        d.Start();
        d.Write(Mmio.QueueSel, 0);
        uint desc = d.Read(Mmio.QueueDescLow);
        d.Write(Mmio.QueueNum, 2);
        d.Write(Mmio.QueueDescLow, 0x1234);
        Assert.Equal(256u, d.Read(Mmio.QueueNum));
        Assert.Equal(desc, d.Read(Mmio.QueueDescLow));
        d.Write(Mmio.QueueSel, 5);
        Assert.Equal(0u, d.Read(Mmio.QueueNumMax));
        Assert.Equal(0u, d.Read(Mmio.QueueReady));
    }

    [Fact]
    public void Registers_are_32_bits_and_the_config_space_takes_any_aligned_width()
    {
        var d = Block(out MemoryDiskImage disk);
        VirtioMmioTransport t = d.Transport;
        Assert.True(t.Read(Mmio.MagicValue, 2, out ulong v));
        Assert.Equal(0ul, v);
        Assert.True(t.Read(Mmio.MagicValue, 1, out v));
        Assert.Equal(0ul, v);
        Assert.False(t.Read(Mmio.MagicValue + 1, 4, out _));
        Assert.False(t.Read(0xffe, 4, out _));
        ulong sectors = disk.Length / 512;
        Assert.True(t.Read(Mmio.Config, 8, out v));
        Assert.Equal(sectors, v);
        Assert.True(t.Read(Mmio.Config, 4, out v));
        Assert.Equal(sectors, v);
        Assert.True(t.Read(Mmio.Config + 20, 4, out v));
        Assert.Equal(512ul, v); // blk_size
        Assert.True(t.Read(Mmio.Config, 1, out v));
        Assert.Equal(sectors & 0xff, v);
        Assert.True(t.Read(Mmio.Config + 0x800, 4, out v));
        Assert.Equal(0ul, v);
    }

    [Fact]
    public void Shared_memory_regions_do_not_exist()
    {
        var d = Block(out _);
        Assert.Equal(uint.MaxValue, d.Read(Mmio.ShmLenLow));
        Assert.Equal(uint.MaxValue, d.Read(Mmio.ShmLenHigh));
    }

    [Fact]
    public void Notifies_before_driver_ok_do_nothing()
    {
        var d = Driver(new VirtioRng());
        Assert.True(d.Negotiate(d.DeviceFeatures));
        DriverQueue q = d.SetupQueue(0, 16, d.DeviceFeatures);
        q.Add(Buffer.In(_ram.Alloc(8), 8));
        q.Kick();
        Assert.True(d.WaitIdle());
        Assert.Equal(0, q.UsedIdx);
        // DRIVER_OK looks at what was made available before it.
        d.DriverOk();
        Assert.Equal(8u, q.WaitUsed()[0].Len);
    }

    [Fact]
    public void A_used_buffer_raises_the_line_until_acknowledged()
    {
        var d = Driver(new VirtioRng());
        DriverQueue q = d.Start(VirtioFeatures.Version1)[0];
        q.Add(Buffer.In(_ram.Alloc(32), 32));
        q.Complete();
        Assert.True(d.WaitIdle());
        Assert.Equal(VirtioMmioTransport.InterruptUsedBuffer, d.Read(Mmio.InterruptStatus));
        Assert.True(_sink.Level(Irq));
        d.Write(Mmio.InterruptAck, VirtioMmioTransport.InterruptUsedBuffer);
        Assert.Equal(0u, d.Read(Mmio.InterruptStatus));
        Assert.False(_sink.Level(Irq));
    }

    [Fact]
    public void A_broken_queue_sets_needs_reset_and_sends_a_config_interrupt()
    {
        var d = Driver(new VirtioRng());
        DriverQueue q = d.Start(VirtioFeatures.Version1)[0];
        q.SetAvailIdx(1000); // far beyond the queue size
        q.Kick();
        Assert.True(d.WaitIdle());
        Assert.NotEqual(0u, d.Status & (uint)DeviceStatus.DeviceNeedsReset);
        Assert.Equal(VirtioMmioTransport.InterruptConfigChange, d.Read(Mmio.InterruptStatus) & VirtioMmioTransport.InterruptConfigChange);
        Assert.True(_sink.Level(Irq));
        Assert.Equal(VirtQueueError.AvailIndexJump, d.Transport.Failure);
        Assert.False(d.Transport.IsDriverReady);
        // The driver can neither clear the bit nor get the device going without a reset.
        d.Write(Mmio.Status, d.Status & ~(uint)DeviceStatus.DeviceNeedsReset);
        Assert.NotEqual(0u, d.Status & (uint)DeviceStatus.DeviceNeedsReset);
        d.Write(Mmio.Status, 0);
        Assert.Equal(0u, d.Status);
        Assert.Equal(VirtQueueError.None, d.Transport.Failure);
    }

    [Fact]
    public void A_config_change_bumps_the_generation_and_interrupts()
    {
        var d = Driver(new VirtioRng());
        d.Start();
        uint generation = d.Read(Mmio.ConfigGeneration);
        d.Transport.NotifyConfigChanged();
        Assert.Equal(generation + 1, d.Read(Mmio.ConfigGeneration));
        Assert.Equal(VirtioMmioTransport.InterruptConfigChange, d.Read(Mmio.InterruptStatus));
    }

    [Fact]
    public void The_hart_does_not_wait_for_device_work()
    {
        using var gate = new ManualResetEventSlim(false);
        var device = new BlockingDevice(gate);
        var d = Driver(device);
        DriverQueue q = d.Start()[0];
        q.Add(Buffer.In(_ram.Alloc(8), 8));
        var watch = System.Diagnostics.Stopwatch.StartNew();
        q.Kick();
        Assert.True(watch.ElapsedMilliseconds < 1000, "QueueNotify waited for the device");
        Assert.True(device.Entered.Wait(TimeSpan.FromSeconds(10)), "the worker never ran");
        Assert.Equal(0, q.UsedIdx);
        // Further notifies and register reads go on while the device is busy.
        q.Kick();
        Assert.Equal(2u, d.Read(Mmio.Version));
        gate.Set();
        Assert.Equal(8u, q.WaitUsed()[0].Len);
    }

    [Fact]
    public void Pause_waits_for_the_request_in_flight_and_then_holds_the_device_still()
    {
        using var gate = new ManualResetEventSlim(false);
        var device = new BlockingDevice(gate);
        var d = Driver(device);
        DriverQueue q = d.Start()[0];
        q.Add(Buffer.In(_ram.Alloc(8), 8));
        q.Kick();
        Assert.True(device.Entered.Wait(TimeSpan.FromSeconds(10)), "the worker never ran");
        using var paused = new ManualResetEventSlim(false);
        new Thread(() => { d.Transport.Pause(); paused.Set(); }).Start();
        Assert.False(paused.Wait(100), "Pause returned with a request in flight");
        gate.Set();
        Assert.True(paused.Wait(TimeSpan.FromSeconds(10)));
        Assert.Equal(1, q.UsedIdx);
        // Paused: a notify is kept, and nothing is done until Resume.
        q.Add(Buffer.In(_ram.Alloc(8), 8));
        q.Kick();
        Thread.Sleep(50);
        Assert.Equal(1, q.UsedIdx);
        d.Transport.Resume();
        Assert.Equal(8u, q.WaitUsed()[0].Len);
    }

    [Fact]
    public void No_notify_is_ever_lost()
    {
        // A notify that lands while the worker is finishing its run must start another run.
        var device = new CountingDevice();
        var d = Driver(device);
        d.Start();
        for (int i = 1; i <= 50_000; i++)
        {
            Volatile.Write(ref device.Requested, i);
            d.Write(Mmio.QueueNotify, 0);
            var spin = new SpinWait();
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (Volatile.Read(ref device.Seen) < i)
            {
                Assert.True(DateTime.UtcNow < deadline, $"notify {i} was never processed");
                spin.SpinOnce();
            }
        }
    }

    [Fact]
    public void A_device_exception_becomes_needs_reset_not_a_crash()
    {
        var d = Driver(new ThrowingDevice());
        DriverQueue q = d.Start()[0];
        q.Add(Buffer.In(_ram.Alloc(8), 8));
        q.Kick();
        Assert.True(d.WaitIdle());
        Assert.NotEqual(0u, d.Status & (uint)DeviceStatus.DeviceNeedsReset);
        Assert.Equal(VirtQueueError.DeviceFailure, d.Transport.Failure);
        Assert.IsType<InvalidOperationException>(d.Transport.FailureException);
    }

    [Fact]
    public void Device_tree_node_has_qemus_form()
    {
        var t = new VirtioMmioTransport("virtio0", _ram.Memory, _sink.Line(1), null);
        _transports.Add(t);
        var fdt = new FdtBuilder();
        t.AddTo(fdt, new DeviceTreeContext(0x1000_1000, 3, [2]));
        FdtNode node = FdtReader.Parse(fdt.Build()).Root.Child("virtio_mmio@10001000")!;
        Assert.Equal(["interrupts", "interrupt-parent", "reg", "compatible"], node.Properties.Select(p => p.Name).ToArray());
        Assert.Equal("virtio,mmio", node.Property("compatible")!.AsString());
        Assert.Equal(1u, node.Property("interrupts")!.AsU32());
        Assert.Equal(3u, node.Property("interrupt-parent")!.AsU32());
        Assert.Equal(new byte[] { 0, 0, 0, 0, 0x10, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x10, 0 }, node.Property("reg")!.Value);
    }

    /// <summary>Completes each chain once the test opens the gate.</summary>
    private sealed class BlockingDevice(ManualResetEventSlim gate) : IVirtioDevice
    {
        public ManualResetEventSlim Entered { get; } = new(false);
        public VirtioDeviceType DeviceType => VirtioDeviceType.Entropy;
        public string Name => "blocking";
        public ulong Features => 0;
        public int QueueCount => 1;
        public ushort MaxQueueSize => 16;
        public void Attach(IVirtioTransport transport) { }
        public void ReadConfig(uint offset, Span<byte> data) => data.Clear();
        public void WriteConfig(uint offset, ReadOnlySpan<byte> data) { }
        public void Activate(ulong features) { }
        public void Reset() { }

        public void Process(int index, VirtQueue queue)
        {
            while (queue.TryPop(out DescriptorChain? chain))
            {
                Entered.Set();
                gate.Wait();
                queue.Push(chain, (uint)chain.WritableLength);
            }
        }
    }

    /// <summary>Records the latest request number the test published before each notify.</summary>
    private sealed class CountingDevice : IVirtioDevice
    {
        public int Requested;
        public int Seen;
        public VirtioDeviceType DeviceType => VirtioDeviceType.Entropy;
        public string Name => "counting";
        public ulong Features => 0;
        public int QueueCount => 1;
        public ushort MaxQueueSize => 16;
        public void Attach(IVirtioTransport transport) { }
        public void ReadConfig(uint offset, Span<byte> data) => data.Clear();
        public void WriteConfig(uint offset, ReadOnlySpan<byte> data) { }
        public void Activate(ulong features) { }
        public void Reset() { }
        public void Process(int index, VirtQueue queue) => Volatile.Write(ref Seen, Volatile.Read(ref Requested));
    }

    private sealed class ThrowingDevice : IVirtioDevice
    {
        public VirtioDeviceType DeviceType => VirtioDeviceType.Entropy;
        public string Name => "throwing";
        public ulong Features => 0;
        public int QueueCount => 1;
        public ushort MaxQueueSize => 16;
        public void Attach(IVirtioTransport transport) { }
        public void ReadConfig(uint offset, Span<byte> data) => data.Clear();
        public void WriteConfig(uint offset, ReadOnlySpan<byte> data) { }
        public void Activate(ulong features) { }
        public void Reset() { }
        public void Process(int index, VirtQueue queue) => throw new InvalidOperationException("device bug");
    }
}
