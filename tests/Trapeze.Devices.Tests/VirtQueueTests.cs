using Trapeze.Devices.Virtio;

namespace Trapeze.Devices.Tests;

/// <summary>The split virtqueue (virtio 1.2 §2.7) on rings built by hand in fake RAM.</summary>
public sealed class VirtQueueTests : IDisposable
{
    private const ushort Size = 8;
    private const ushort Next = 1, Write = 2, Indirect = 4;
    private readonly FakeGuestRam _ram = new();
    private readonly ulong _desc, _avail, _used;
    private ushort _availIdx;

    public VirtQueueTests()
    {
        _desc = _ram.Alloc(VirtQueue.DescriptorTableBytes(Size), 16);
        _avail = _ram.Alloc(VirtQueue.AvailRingBytes(Size), 2);
        _used = _ram.Alloc(VirtQueue.UsedRingBytes(Size), 4);
    }

    public void Dispose() => _ram.Dispose();

    private VirtQueue Queue(ulong features = VirtioFeatures.Version1 | VirtioFeatures.RingIndirectDesc) =>
        new(_ram.Memory, Size, _desc, _avail, _used, features);

    private void Desc(ulong table, int i, ulong addr, uint len, ushort flags = 0, ushort next = 0)
    {
        ulong d = table + (ulong)i * 16;
        _ram.WriteU64(d, addr);
        _ram.WriteU32(d + 8, len);
        _ram.WriteU16(d + 12, flags);
        _ram.WriteU16(d + 14, next);
    }

    private void Make(ushort head)
    {
        _ram.WriteU16(_avail + 4 + 2UL * (uint)(_availIdx % Size), head);
        _availIdx++;
        _ram.WriteU16(_avail + 2, _availIdx);
    }

    private ulong Buf(uint len) => _ram.Alloc(len, 8);

    [Fact]
    public void Pops_a_chain_of_readable_then_writable_buffers()
    {
        ulong a = Buf(16), b = Buf(100), c = Buf(1);
        Desc(_desc, 3, a, 16, Next, 5);
        Desc(_desc, 5, b, 100, Next | Write, 0);
        Desc(_desc, 0, c, 1, Write);
        Make(3);
        VirtQueue q = Queue();
        Assert.True(q.TryPop(out DescriptorChain? chain));
        Assert.Equal(3, chain.Head);
        Assert.Equal(16ul, chain.ReadableLength);
        Assert.Equal(101ul, chain.WritableLength);
        Assert.Equal([new DescriptorSegment(a, 16)], chain.Readable.ToArray());
        Assert.Equal([new DescriptorSegment(b, 100), new DescriptorSegment(c, 1)], chain.Writable.ToArray());
        Assert.False(q.TryPop(out _));
        Assert.False(q.IsBroken);
    }

    [Fact]
    public void Reads_and_writes_the_chain_as_byte_streams_across_buffers()
    {
        ulong a = Buf(3), b = Buf(5), w1 = Buf(2), w2 = Buf(6);
        _ram.Span(a, 3).Fill(1);
        _ram.Span(b, 5).Fill(2);
        Desc(_desc, 0, a, 3, Next, 1);
        Desc(_desc, 1, b, 5, Next, 2);
        Desc(_desc, 2, w1, 2, Next | Write, 3);
        Desc(_desc, 3, w2, 6, Write);
        Make(0);
        Assert.True(Queue().TryPop(out DescriptorChain? chain));
        var read = new byte[4];
        Assert.True(chain.TryRead(1, read));
        Assert.Equal(new byte[] { 1, 1, 2, 2 }, read);
        Assert.False(chain.TryRead(6, new byte[4])); // runs past the readable bytes
        Assert.True(chain.TryWrite(1, new byte[] { 7, 8, 9 }));
        Assert.Equal(new byte[] { 0, 7 }, _ram.Span(w1, 2).ToArray());
        Assert.Equal(new byte[] { 8, 9, 0, 0, 0, 0 }, _ram.Span(w2, 6).ToArray());
        Assert.False(chain.TryWrite(6, new byte[3])); // runs past the writable bytes
    }

    [Fact]
    public void Pops_an_indirect_chain()
    {
        ulong table = _ram.Alloc(48, 16), a = Buf(16), b = Buf(512), c = Buf(1);
        Desc(table, 0, a, 16, Next, 1);
        Desc(table, 1, b, 512, Next | Write, 2);
        Desc(table, 2, c, 1, Write);
        Desc(_desc, 6, table, 48, Indirect);
        Make(6);
        Assert.True(Queue().TryPop(out DescriptorChain? chain));
        Assert.Equal(6, chain.Head);
        Assert.Equal(16ul, chain.ReadableLength);
        Assert.Equal(513ul, chain.WritableLength);
    }

    [Fact]
    public void Push_writes_the_element_then_publishes_the_index()
    {
        Desc(_desc, 2, Buf(8), 8, Write);
        Make(2);
        VirtQueue q = Queue();
        Assert.True(q.TryPop(out DescriptorChain? chain));
        q.Push(chain, 5);
        Assert.Equal(1, _ram.ReadU16(_used + 2));
        Assert.Equal(2u, _ram.ReadU32(_used + 4));
        Assert.Equal(5u, _ram.ReadU32(_used + 8));
        // The length can never claim more than the writable buffers hold.
        Desc(_desc, 3, Buf(8), 8, Write);
        Make(3);
        Assert.True(q.TryPop(out chain));
        q.Push(chain, 1000);
        Assert.Equal(8u, _ram.ReadU32(_used + 16));
    }

    [Fact]
    public void Zero_length_buffers_are_skipped_wherever_they_point()
    {
        Desc(_desc, 0, ulong.MaxValue, 0, Next | Write, 1);
        Desc(_desc, 1, Buf(4), 4, Write);
        Make(0);
        Assert.True(Queue().TryPop(out DescriptorChain? chain));
        Assert.Equal(4ul, chain.WritableLength);
        Assert.Equal(1, chain.Writable.Length);
    }

    public static TheoryData<string, VirtQueueError> Violations() => new()
    {
        { "loop", VirtQueueError.ChainTooLong },
        { "self-loop", VirtQueueError.ChainTooLong },
        { "next out of range", VirtQueueError.DescriptorIndexOutOfRange },
        { "head out of range", VirtQueueError.DescriptorIndexOutOfRange },
        { "avail index jump", VirtQueueError.AvailIndexJump },
        { "readable after writable", VirtQueueError.ReadableAfterWritable },
        { "buffer outside RAM", VirtQueueError.BufferOutOfRange },
        { "buffer runs off the end of RAM", VirtQueueError.BufferOutOfRange },
        { "buffer wraps the address space", VirtQueueError.BufferOutOfRange },
        { "writable buffer in ROM", VirtQueueError.BufferOutOfRange },
        { "huge length", VirtQueueError.BufferTooLarge },
        { "indirect in indirect", VirtQueueError.IndirectInIndirect },
        { "indirect with next", VirtQueueError.IndirectMisplaced },
        { "indirect after a buffer", VirtQueueError.IndirectMisplaced },
        { "indirect length not a multiple of 16", VirtQueueError.IndirectBadLength },
        { "indirect length zero", VirtQueueError.IndirectBadLength },
        { "indirect table larger than the queue", VirtQueueError.ChainTooLong },
        { "indirect table outside RAM", VirtQueueError.BufferOutOfRange },
        { "indirect loop", VirtQueueError.ChainTooLong },
        { "indirect next out of range", VirtQueueError.DescriptorIndexOutOfRange },
    };

    [Theory]
    [MemberData(nameof(Violations))]
    public void A_rule_broken_by_the_guest_breaks_the_queue(string what, VirtQueueError expected)
    {
        ulong buf = Buf(64), table = _ram.Alloc(16 * 16, 16);
        ushort head = 0;
        switch (what)
        {
            case "loop":
                Desc(_desc, 0, buf, 8, Next, 1);
                Desc(_desc, 1, buf, 8, Next, 0);
                break;
            case "self-loop": Desc(_desc, 0, buf, 8, Next, 0); break;
            case "next out of range": Desc(_desc, 0, buf, 8, Next, Size); break;
            case "head out of range": head = Size; break;
            case "avail index jump":
                Desc(_desc, 0, buf, 8);
                _ram.WriteU16(_avail + 2, Size + 1);
                Assert.False(Queue().TryPop(out _));
                Assert.Equal(expected, BrokenQueueError());
                return;
            case "readable after writable":
                Desc(_desc, 0, buf, 8, Next | Write, 1);
                Desc(_desc, 1, buf, 8);
                break;
            case "buffer outside RAM": Desc(_desc, 0, 0x4000_0000, 8); break;
            case "buffer runs off the end of RAM": Desc(_desc, 0, _ram.End - 4, 8); break;
            case "buffer wraps the address space": Desc(_desc, 0, ulong.MaxValue - 3, 16); break;
            case "writable buffer in ROM": Desc(_desc, 0, FakeGuestRam.RomBase, 8, Write); break;
            case "huge length": Desc(_desc, 0, buf, 0x8000_0000); break;
            case "indirect in indirect":
                Desc(table, 0, table, 32, Indirect);
                Desc(_desc, 0, table, 32, Indirect);
                break;
            case "indirect with next":
                Desc(table, 0, buf, 8);
                Desc(_desc, 0, table, 16, Indirect | Next, 1);
                break;
            case "indirect after a buffer":
                Desc(table, 0, buf, 8);
                Desc(_desc, 0, buf, 8, Next, 1);
                Desc(_desc, 1, table, 16, Indirect);
                break;
            case "indirect length not a multiple of 16": Desc(_desc, 0, table, 24, Indirect); break;
            case "indirect length zero": Desc(_desc, 0, table, 0, Indirect); break;
            case "indirect table larger than the queue": Desc(_desc, 0, table, 16 * (Size + 1), Indirect); break;
            case "indirect table outside RAM": Desc(_desc, 0, _ram.End - 16, 32, Indirect); break;
            case "indirect loop":
                Desc(table, 0, buf, 8, Next, 1);
                Desc(table, 1, buf, 8, Next, 0);
                Desc(_desc, 0, table, 32, Indirect);
                break;
            case "indirect next out of range":
                Desc(table, 0, buf, 8, Next, 2);
                Desc(_desc, 0, table, 32, Indirect);
                break;
            default: throw new ArgumentException(what);
        }
        Make(head);
        Assert.Equal(expected, BrokenQueueError());
    }

    private VirtQueueError BrokenQueueError()
    {
        VirtQueue q = Queue();
        Assert.False(q.TryPop(out _));
        Assert.True(q.IsBroken);
        // Broken for good: a good chain after it is not taken.
        Desc(_desc, 7, Buf(8), 8);
        Make(7);
        Assert.False(q.TryPop(out _));
        return q.Error;
    }

    [Fact]
    public void Indirect_descriptors_need_the_feature()
    {
        ulong table = _ram.Alloc(16, 16);
        Desc(table, 0, Buf(8), 8);
        Desc(_desc, 0, table, 16, Indirect);
        Make(0);
        VirtQueue q = Queue(VirtioFeatures.Version1);
        Assert.False(q.TryPop(out _));
        Assert.Equal(VirtQueueError.IndirectNotNegotiated, q.Error);
    }

    [Fact]
    public void A_chain_as_long_as_the_queue_is_accepted()
    {
        for (int i = 0; i < Size; i++) Desc(_desc, i, Buf(4), 4, i + 1 < Size ? Next : (ushort)0, (ushort)(i + 1));
        Make(0);
        Assert.True(Queue().TryPop(out DescriptorChain? chain));
        Assert.Equal(Size, chain.Readable.Length);
    }

    [Fact]
    public void The_guest_changing_a_descriptor_after_the_pop_changes_nothing()
    {
        ulong buf = Buf(8);
        Desc(_desc, 0, buf, 8, Write);
        Make(0);
        Assert.True(Queue().TryPop(out DescriptorChain? chain));
        Desc(_desc, 0, 0x4000_0000, 0x7fff_ffff, Write);
        Assert.Equal([new DescriptorSegment(buf, 8)], chain.Writable.ToArray());
    }

    [Fact]
    public void Without_event_idx_no_interrupt_flag_suppresses_notifications()
    {
        VirtQueue q = Queue();
        Desc(_desc, 0, Buf(4), 4, Write);
        Make(0);
        Assert.True(q.TryPop(out DescriptorChain? chain));
        Assert.False(q.NeedsInterrupt()); // nothing pushed yet
        q.Push(chain, 4);
        Assert.True(q.NeedsInterrupt());
        Assert.False(q.NeedsInterrupt());
        _ram.WriteU16(_avail, 1); // VIRTQ_AVAIL_F_NO_INTERRUPT
        Make(0);
        Assert.True(q.TryPop(out chain));
        q.Push(chain, 4);
        Assert.False(q.NeedsInterrupt());
    }

    [Fact]
    public void With_event_idx_the_device_interrupts_only_when_used_idx_passes_used_event()
    {
        VirtQueue q = Queue(VirtioFeatures.Version1 | VirtioFeatures.RingEventIdx);
        ulong usedEvent = _avail + 4 + 2UL * Size;
        for (int i = 0; i < Size; i++) Desc(_desc, i, Buf(4), 4, Write);

        void PushOne(ushort head)
        {
            Make(head);
            Assert.True(q.TryPop(out DescriptorChain? chain));
            q.Push(chain, 4);
        }

        // The first notification is always sent (nothing was signalled before).
        _ram.WriteU16(usedEvent, 0);
        PushOne(0);
        Assert.True(q.NeedsInterrupt());
        // The driver asks to hear when used->idx goes past 3, i.e. when entry 3 is used (idx becomes 4).
        _ram.WriteU16(usedEvent, 3);
        PushOne(1); // idx 2
        Assert.False(q.NeedsInterrupt());
        PushOne(2); // idx 3
        Assert.False(q.NeedsInterrupt());
        PushOne(3); // idx 4
        Assert.True(q.NeedsInterrupt());
        // Several pushes between checks: the event inside the batch is seen.
        _ram.WriteU16(usedEvent, 5);
        PushOne(4); // idx 5
        PushOne(5); // idx 6
        Assert.True(q.NeedsInterrupt());
        // An event already passed before the last check does not fire again.
        PushOne(6); // idx 7
        Assert.False(q.NeedsInterrupt());
    }

    [Fact]
    public void With_event_idx_going_idle_publishes_avail_event()
    {
        VirtQueue q = Queue(VirtioFeatures.Version1 | VirtioFeatures.RingEventIdx);
        ulong availEvent = _used + 4 + 8UL * Size;
        _ram.WriteU16(availEvent, 0xbeef);
        for (int i = 0; i < 3; i++)
        {
            Desc(_desc, i, Buf(4), 4, Write);
            Make((ushort)i);
        }
        for (int i = 0; i < 3; i++) Assert.True(q.TryPop(out _));
        // While busy the device leaves avail_event alone: the driver does not need to notify.
        Assert.Equal(0xbeef, _ram.ReadU16(availEvent));
        Assert.False(q.TryPop(out _));
        // Idle: "notify me when you make entry 3 available".
        Assert.Equal(3, _ram.ReadU16(availEvent));
        Assert.False(q.IsBroken);
    }

    [Fact]
    public void Layout_checks_cover_size_alignment_and_memory()
    {
        var m = _ram.Memory;
        ulong b = FakeGuestRam.RamBase;
        Assert.Equal(VirtQueueError.None, VirtQueue.CheckLayout(m, 256, b, b + 0x1000, b + 0x2000));
        Assert.Equal(VirtQueueError.None, VirtQueue.CheckLayout(m, 1, b, b + 0x1000, b + 0x2000));
        Assert.Equal(VirtQueueError.BadQueueConfiguration, VirtQueue.CheckLayout(m, 3, b, b + 0x1000, b + 0x2000));
        Assert.Equal(VirtQueueError.BadQueueConfiguration, VirtQueue.CheckLayout(m, 65536, b, b + 0x1000, b + 0x2000));
        Assert.Equal(VirtQueueError.BadQueueConfiguration, VirtQueue.CheckLayout(m, 32768, b, b + 0x8_0000, b + 0xf_0000));
        Assert.Equal(VirtQueueError.BadQueueConfiguration, VirtQueue.CheckLayout(m, 256, ulong.MaxValue - 15, b, b + 0x2000));
        Assert.Throws<ArgumentException>(() => new VirtQueue(m, 3, b, b + 0x1000, b + 0x2000, 0));
    }

    [Fact]
    public void A_stopped_queue_pops_nothing()
    {
        Desc(_desc, 0, Buf(4), 4);
        Make(0);
        VirtQueue q = Queue();
        q.Stop();
        Assert.False(q.TryPop(out _));
        Assert.False(q.IsBroken);
    }
}
