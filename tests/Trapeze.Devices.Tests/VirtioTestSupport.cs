using System.Buffers.Binary;
using Trapeze.Core.Memory;
using Trapeze.Devices.Storage;
using Trapeze.Devices.Virtio;

namespace Trapeze.Devices.Tests;

/// <summary>Guest RAM on a bus of its own (plus a small read-only region), as a virtio device sees it.</summary>
internal sealed class FakeGuestRam : IDisposable
{
    public const ulong RamBase = 0x8000_0000;
    public const ulong RomBase = 0x1000;

    public FakeGuestRam(ulong size = 1 << 20)
    {
        Ram = new GuestRam("dram", RamBase, size);
        Rom = new GuestRam("rom", RomBase, 0x1000, readOnly: true);
        Bus = new Bus();
        Bus.AddMemory(Rom);
        Bus.AddMemory(Ram, isDram: true);
        Memory = new GuestMemory(Bus);
        Next = RamBase;
    }

    public GuestRam Ram { get; }
    public GuestRam Rom { get; }
    public Bus Bus { get; }
    public GuestMemory Memory { get; }
    public ulong Size => Ram.Size;
    public ulong End => RamBase + Ram.Size;

    /// <summary>The bump allocator's next free address.</summary>
    public ulong Next { get; set; }

    public ulong Alloc(ulong size, ulong align = 16)
    {
        ulong a = (Next + align - 1) & ~(align - 1);
        if (a + size > End) throw new InvalidOperationException("fake RAM exhausted");
        Next = a + size;
        return a;
    }

    public Span<byte> Span(ulong pa, int length) => Ram.AsSpan(pa - RamBase, length);

    public void WriteU16(ulong pa, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(Span(pa, 2), v);
    public void WriteU32(ulong pa, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(Span(pa, 4), v);
    public void WriteU64(ulong pa, ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(Span(pa, 8), v);
    public ushort ReadU16(ulong pa) => BinaryPrimitives.ReadUInt16LittleEndian(Span(pa, 2));
    public uint ReadU32(ulong pa) => BinaryPrimitives.ReadUInt32LittleEndian(Span(pa, 4));

    public void Dispose()
    {
        Ram.Dispose();
        Rom.Dispose();
    }
}

/// <summary>virtio-mmio register offsets (virtio 1.2 §4.2.2), as a driver uses them.</summary>
internal static class Mmio
{
    public const ulong MagicValue = 0x000, Version = 0x004, DeviceId = 0x008, VendorId = 0x00c,
        DeviceFeatures = 0x010, DeviceFeaturesSel = 0x014, DriverFeatures = 0x020, DriverFeaturesSel = 0x024,
        QueueSel = 0x030, QueueNumMax = 0x034, QueueNum = 0x038, QueueReady = 0x044, QueueNotify = 0x050,
        InterruptStatus = 0x060, InterruptAck = 0x064, Status = 0x070,
        QueueDescLow = 0x080, QueueDescHigh = 0x084, QueueDriverLow = 0x090, QueueDriverHigh = 0x094,
        QueueDeviceLow = 0x0a0, QueueDeviceHigh = 0x0a4, ShmSel = 0x0ac, ShmLenLow = 0x0b0, ShmLenHigh = 0x0b4,
        ConfigGeneration = 0x0fc, Config = 0x100;
}

/// <summary>One buffer of a request the test driver builds.</summary>
internal readonly record struct Buffer(ulong Address, uint Length, bool Writable)
{
    public static Buffer In(ulong address, uint length) => new(address, length, true);
    public static Buffer Out(ulong address, uint length) => new(address, length, false);
}

/// <summary>
/// A minimal virtio driver for tests: the Linux initialisation sequence (§3.1.1) through the transport's
/// registers, split rings placed in fake RAM, requests built as direct or indirect chains.
/// </summary>
internal sealed class TestDriver(VirtioMmioTransport transport, FakeGuestRam ram)
{
    public VirtioMmioTransport Transport { get; } = transport;
    public FakeGuestRam Ram { get; } = ram;

    public uint Read(ulong offset)
    {
        Assert.True(Transport.Read(offset, 4, out ulong v));
        return (uint)v;
    }

    public void Write(ulong offset, uint value) => Assert.True(Transport.Write(offset, 4, value));

    public uint Status => Read(Mmio.Status);

    public ulong DeviceFeatures
    {
        get
        {
            Write(Mmio.DeviceFeaturesSel, 0);
            ulong low = Read(Mmio.DeviceFeatures);
            Write(Mmio.DeviceFeaturesSel, 1);
            return low | ((ulong)Read(Mmio.DeviceFeatures) << 32);
        }
    }

    /// <summary>Reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK; true when the device kept FEATURES_OK.</summary>
    public bool Negotiate(ulong features)
    {
        Write(Mmio.Status, 0);
        Write(Mmio.Status, (uint)DeviceStatus.Acknowledge);
        Write(Mmio.Status, (uint)(DeviceStatus.Acknowledge | DeviceStatus.Driver));
        Write(Mmio.DriverFeaturesSel, 0);
        Write(Mmio.DriverFeatures, (uint)features);
        Write(Mmio.DriverFeaturesSel, 1);
        Write(Mmio.DriverFeatures, (uint)(features >> 32));
        Write(Mmio.Status, (uint)(DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.FeaturesOk));
        return (Status & (uint)DeviceStatus.FeaturesOk) != 0;
    }

    public void DriverOk() =>
        Write(Mmio.Status, (uint)(DeviceStatus.Acknowledge | DeviceStatus.Driver | DeviceStatus.FeaturesOk | DeviceStatus.DriverOk));

    /// <summary>Negotiates everything offered (or <paramref name="features"/>), sets up every queue, DRIVER_OK.</summary>
    public DriverQueue[] Start(ulong? features = null, ushort? queueSize = null)
    {
        ulong f = features ?? DeviceFeatures;
        Assert.True(Negotiate(f), "FEATURES_OK refused");
        var queues = new DriverQueue[Transport.Device!.QueueCount];
        for (int i = 0; i < queues.Length; i++) queues[i] = SetupQueue(i, queueSize ?? Transport.Device.MaxQueueSize, f);
        DriverOk();
        Assert.Equal((uint)0, Status & (uint)DeviceStatus.DeviceNeedsReset);
        return queues;
    }

    public DriverQueue SetupQueue(int index, ushort size, ulong features)
    {
        ulong desc = Ram.Alloc(VirtQueue.DescriptorTableBytes(size), 16);
        ulong avail = Ram.Alloc(VirtQueue.AvailRingBytes(size), 2);
        ulong used = Ram.Alloc(VirtQueue.UsedRingBytes(size), 4);
        ProgramQueue(index, size, desc, avail, used);
        Write(Mmio.QueueReady, 1);
        Assert.Equal(1u, Read(Mmio.QueueReady));
        return new DriverQueue(this, index, size, desc, avail, used, (features & VirtioFeatures.RingEventIdx) != 0);
    }

    public void ProgramQueue(int index, uint size, ulong desc, ulong avail, ulong used)
    {
        Write(Mmio.QueueSel, (uint)index);
        Write(Mmio.QueueNum, size);
        Write(Mmio.QueueDescLow, (uint)desc);
        Write(Mmio.QueueDescHigh, (uint)(desc >> 32));
        Write(Mmio.QueueDriverLow, (uint)avail);
        Write(Mmio.QueueDriverHigh, (uint)(avail >> 32));
        Write(Mmio.QueueDeviceLow, (uint)used);
        Write(Mmio.QueueDeviceHigh, (uint)(used >> 32));
    }

    public bool WaitIdle() => Transport.WaitForIdle(TimeSpan.FromSeconds(10));
}

/// <summary>The driver side of one split virtqueue.</summary>
internal sealed class DriverQueue(TestDriver driver, int index, ushort size, ulong desc, ulong avail, ulong used, bool eventIdx)
{
    private ushort _nextDesc;
    private ushort _availIdx;
    private ushort _lastUsed;

    public int Index { get; } = index;
    public ushort Size { get; } = size;
    public ulong Desc { get; } = desc;
    public ulong Avail { get; } = avail;
    public ulong Used { get; } = used;
    public bool EventIdx { get; } = eventIdx;
    public ushort AvailIdx => _availIdx;
    private FakeGuestRam Ram => driver.Ram;

    public void WriteDescriptor(ulong table, int i, ulong addr, uint len, ushort flags, ushort next)
    {
        ulong d = table + (ulong)i * 16;
        Ram.WriteU64(d, addr);
        Ram.WriteU32(d + 8, len);
        Ram.WriteU16(d + 12, flags);
        Ram.WriteU16(d + 14, next);
    }

    /// <summary>Builds a chain of <paramref name="buffers"/> (in the ring, or in an indirect table) and
    /// makes it available; returns its head.</summary>
    public ushort Add(bool indirect, params Buffer[] buffers)
    {
        ushort head = _nextDesc;
        if (indirect)
        {
            ulong table = Ram.Alloc((ulong)buffers.Length * 16, 16);
            for (int i = 0; i < buffers.Length; i++)
            {
                ushort flags = (ushort)((i + 1 < buffers.Length ? 1 : 0) | (buffers[i].Writable ? 2 : 0));
                WriteDescriptor(table, i, buffers[i].Address, buffers[i].Length, flags, (ushort)(i + 1));
            }
            WriteDescriptor(Desc, head, table, (uint)(buffers.Length * 16), 4, 0);
            _nextDesc = (ushort)((_nextDesc + 1) % Size);
        }
        else
        {
            for (int i = 0; i < buffers.Length; i++)
            {
                ushort cur = _nextDesc;
                ushort next = (ushort)((cur + 1) % Size);
                ushort flags = (ushort)((i + 1 < buffers.Length ? 1 : 0) | (buffers[i].Writable ? 2 : 0));
                WriteDescriptor(Desc, cur, buffers[i].Address, buffers[i].Length, flags, next);
                _nextDesc = next;
            }
        }
        Publish(head);
        return head;
    }

    public ushort Add(params Buffer[] buffers) => Add(false, buffers);

    /// <summary>Puts <paramref name="head"/> in the avail ring and publishes the new index.</summary>
    public void Publish(ushort head)
    {
        Ram.WriteU16(Avail + 4 + 2UL * (uint)(_availIdx % Size), head);
        _availIdx++;
        Ram.WriteU16(Avail + 2, _availIdx);
    }

    public void SetAvailIdx(ushort idx)
    {
        _availIdx = idx;
        Ram.WriteU16(Avail + 2, idx);
    }

    public void SetAvailFlags(ushort flags) => Ram.WriteU16(Avail, flags);

    public void SetUsedEvent(ushort value) => Ram.WriteU16(Avail + 4 + 2UL * Size, value);

    public ushort AvailEvent => Ram.ReadU16(Used + 4 + 8UL * Size);

    public ushort UsedIdx => Ram.ReadU16(Used + 2);

    public void Kick() => driver.Write(Mmio.QueueNotify, (uint)Index);

    /// <summary>Waits until <paramref name="count"/> more used elements appear; returns them (id, len).</summary>
    public List<(uint Id, uint Len)> WaitUsed(int count = 1, int timeoutMs = 10_000)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while ((ushort)(UsedIdx - _lastUsed) < count)
        {
            Assert.True(DateTime.UtcNow < deadline, $"queue {Index}: {(ushort)(UsedIdx - _lastUsed)} of {count} used buffers after {timeoutMs} ms");
            Thread.Sleep(1);
        }
        var result = new List<(uint, uint)>();
        for (int i = 0; i < count; i++)
        {
            ulong e = Used + 4 + 8UL * (uint)(_lastUsed % Size);
            result.Add((Ram.ReadU32(e), Ram.ReadU32(e + 4)));
            _lastUsed++;
        }
        return result;
    }

    /// <summary>Kicks and waits for one used element.</summary>
    public (uint Id, uint Len) Complete()
    {
        Kick();
        return WaitUsed(1)[0];
    }
}

/// <summary>A disk held in memory (fast, for the hostile-input test).</summary>
internal sealed class MemoryDiskImage(int length, bool readOnly = false) : IDiskImage
{
    public byte[] Data { get; } = new byte[length];
    public string Name => "memory";
    public ulong Length => (ulong)Data.Length;
    public bool ReadOnly { get; } = readOnly;
    public int Flushes { get; private set; }

    public void Read(ulong offset, Span<byte> buffer) => Data.AsSpan(checked((int)offset), buffer.Length).CopyTo(buffer);

    public void Write(ulong offset, ReadOnlySpan<byte> data) => data.CopyTo(Data.AsSpan(checked((int)offset)));

    public void Flush() => Flushes++;

    public void Discard(ulong offset, ulong length) { }

    public void WriteZeroes(ulong offset, ulong length, bool mayUnmap) => Data.AsSpan(checked((int)offset), checked((int)length)).Clear();

    public void Dispose() { }
}
