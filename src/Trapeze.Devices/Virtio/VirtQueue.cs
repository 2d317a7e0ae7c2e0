using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using Trapeze.Core.Memory;

namespace Trapeze.Devices.Virtio;

/// <summary>
/// The device side of a split virtqueue (virtio 1.2 §2.7), hardened against the guest (STYLE rule 7).
/// Every ring and buffer access goes through <see cref="GuestMemory"/>; descriptors are copied out once
/// and checked before the device sees them; chains are bounded by the queue size (a loop ends there);
/// indirect tables are bounded, may not nest and may only head a chain; a jump of avail->idx beyond the
/// queue size is refused. The first violation makes the queue <see cref="IsBroken"/> for good: it pops
/// nothing more and its transport puts the device into DEVICE_NEEDS_RESET. Nothing here throws for
/// anything the guest does.
/// <para>Not thread-safe: a queue is served by one device worker at a time. Only <see cref="Stop"/> may
/// be called from elsewhere.</para>
/// </summary>
public sealed class VirtQueue
{
    /// <summary>§2.7: the largest queue size of a split virtqueue.</summary>
    public const int MaxSize = 32768;

    public const int DescriptorSize = 16;

    private const ushort DescFlagNext = 1, DescFlagWrite = 2, DescFlagIndirect = 4;
    private const ushort AvailFlagNoInterrupt = 1;

    private readonly GuestMemory _memory;
    private readonly ulong _desc, _avail, _used;
    private readonly bool _eventIdx, _indirect;
    private readonly DescriptorChain _chain;
    private ushort _lastAvail;
    private ushort _usedIdx;
    private ushort _signalledUsed;
    private bool _signalledValid;
    private bool _pushedSinceCheck;
    private volatile bool _stopped;

    /// <summary>Creates a queue over rings the driver placed in guest memory; check them first with
    /// <see cref="CheckLayout"/>.</summary>
    /// <param name="features">The negotiated features (for EVENT_IDX and INDIRECT_DESC).</param>
    public VirtQueue(GuestMemory memory, ushort size, ulong descTable, ulong availRing, ulong usedRing, ulong features)
    {
        if (CheckLayout(memory, size, descTable, availRing, usedRing) != VirtQueueError.None)
            throw new ArgumentException("unusable virtqueue layout (check it with CheckLayout first)");
        _memory = memory;
        Size = size;
        _desc = descTable;
        _avail = availRing;
        _used = usedRing;
        _eventIdx = (features & VirtioFeatures.RingEventIdx) != 0;
        _indirect = (features & VirtioFeatures.RingIndirectDesc) != 0;
        _chain = new DescriptorChain(memory, size);
    }

    public ushort Size { get; }

    /// <summary>Why the queue stopped, or <see cref="VirtQueueError.None"/>.</summary>
    public VirtQueueError Error { get; private set; }

    public bool IsBroken => Error != VirtQueueError.None;

    /// <summary>The device's position in the avail ring (the next entry it will take).</summary>
    public ushort LastAvailIndex => _lastAvail;

    /// <summary>The used ring index as last published.</summary>
    public ushort UsedIndex => _usedIdx;

    /// <summary>Whether the used-buffer notification state is known (EVENT_IDX: the used index last signalled).</summary>
    public ushort SignalledUsedIndex => _signalledUsed;

    public bool SignalledValid => _signalledValid;

    /// <summary>Sets the device's positions in the rings (a snapshot restore), before the queue is served.</summary>
    public void RestorePosition(ushort lastAvail, ushort usedIndex, ushort signalledUsed, bool signalledValid)
    {
        _lastAvail = lastAvail;
        _usedIdx = usedIndex;
        _signalledUsed = signalledUsed;
        _signalledValid = signalledValid;
        _pushedSinceCheck = false;
    }

    /// <summary>Bytes of each ring for a queue of <paramref name="size"/> entries (with the event fields).</summary>
    public static ulong DescriptorTableBytes(uint size) => (ulong)size * DescriptorSize;

    public static ulong AvailRingBytes(uint size) => 6 + 2UL * size;

    public static ulong UsedRingBytes(uint size) => 6 + 8UL * size;

    /// <summary>Checks a driver's queue configuration (§2.7): the size is a power of two up to 32768,
    /// each ring is aligned (16, 2 and 4 bytes) and lies in guest memory, the used ring in writable memory.</summary>
    public static VirtQueueError CheckLayout(GuestMemory memory, uint size, ulong descTable, ulong availRing, ulong usedRing)
    {
        if (size == 0 || size > MaxSize || (size & (size - 1)) != 0) return VirtQueueError.BadQueueConfiguration;
        if ((descTable & 15) != 0 || (availRing & 1) != 0 || (usedRing & 3) != 0) return VirtQueueError.BadQueueConfiguration;
        if (!memory.IsRange(descTable, DescriptorTableBytes(size), false)
            || !memory.IsRange(availRing, AvailRingBytes(size), false)
            || !memory.IsRange(usedRing, UsedRingBytes(size), true))
            return VirtQueueError.BadQueueConfiguration;
        return VirtQueueError.None;
    }

    /// <summary>Marks the queue broken (a device that met a request it cannot answer). The first error stays.</summary>
    public void Fail(VirtQueueError error)
    {
        if (Error == VirtQueueError.None && error != VirtQueueError.None) Error = error;
    }

    /// <summary>Makes <see cref="TryPop"/> return false from now on (a reset is waiting for the worker).
    /// Callable from any thread.</summary>
    public void Stop() => _stopped = true;

    /// <summary>
    /// Takes the next available descriptor chain. False when there is none, when the queue is stopped, or
    /// when the guest broke a rule (then <see cref="Error"/> says which). The chain is valid until the
    /// next call.
    /// </summary>
    public bool TryPop([NotNullWhen(true)] out DescriptorChain? chain)
    {
        chain = null;
        if (IsBroken || _stopped) return false;
        if (!_memory.TryReadU16Acquire(_avail + 2, out ushort availIdx)) return Broken(VirtQueueError.RingInaccessible);
        if (availIdx == _lastAvail)
        {
            // Going idle: ask for a notification when the driver adds the next buffer, then look again,
            // since it may have added one before it could see the request (§2.7.10, the device side of
            // the race that virtio_mb guards against).
            if (_eventIdx && !_memory.TryWriteU16(_used + 4 + 8UL * Size, _lastAvail)) return Broken(VirtQueueError.RingInaccessible);
            Interlocked.MemoryBarrier();
            if (!_memory.TryReadU16Acquire(_avail + 2, out availIdx)) return Broken(VirtQueueError.RingInaccessible);
            if (availIdx == _lastAvail) return false;
        }
        if ((ushort)(availIdx - _lastAvail) > Size) return Broken(VirtQueueError.AvailIndexJump);
        if (!_memory.TryReadU16(_avail + 4 + 2UL * (uint)(_lastAvail & (Size - 1)), out ushort head))
            return Broken(VirtQueueError.RingInaccessible);
        if (head >= Size) return Broken(VirtQueueError.DescriptorIndexOutOfRange);
        VirtQueueError error = Walk(head);
        if (error != VirtQueueError.None) return Broken(error);
        _lastAvail++;
        chain = _chain;
        return true;
    }

    /// <summary>Puts back the chain the last <see cref="TryPop"/> returned, not yet pushed: the next pop
    /// returns it again (a receive buffer kept for a frame that fits, when one that did not was dropped).</summary>
    public void Unpop() => _lastAvail--;

    private VirtQueueError Walk(ushort head)
    {
        _chain.Start(head);
        Span<byte> d = stackalloc byte[DescriptorSize];
        ulong table = _desc;
        uint tableSize = Size;
        uint index = head;
        bool inIndirect = false, seenWritable = false;
        int buffers = 0;
        while (true)
        {
            // index < tableSize and the table lies in guest memory, so this only fails if memory moved.
            if (!_memory.TryRead(table + index * (ulong)DescriptorSize, d)) return VirtQueueError.RingInaccessible;
            ulong addr = BinaryPrimitives.ReadUInt64LittleEndian(d);
            uint len = BinaryPrimitives.ReadUInt32LittleEndian(d[8..]);
            ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(d[12..]);
            ushort next = BinaryPrimitives.ReadUInt16LittleEndian(d[14..]);

            if ((flags & DescFlagIndirect) != 0)
            {
                // §2.7.5.3: an indirect descriptor stands alone at the head of its chain and points to a
                // table of ordinary descriptors.
                if (!_indirect) return VirtQueueError.IndirectNotNegotiated;
                if (inIndirect) return VirtQueueError.IndirectInIndirect;
                if ((flags & DescFlagNext) != 0 || buffers != 0) return VirtQueueError.IndirectMisplaced;
                if (len == 0 || len % DescriptorSize != 0) return VirtQueueError.IndirectBadLength;
                if (len / DescriptorSize > Size) return VirtQueueError.ChainTooLong;
                if (!_memory.IsRange(addr, len, false)) return VirtQueueError.BufferOutOfRange;
                table = addr;
                tableSize = len / DescriptorSize;
                index = 0;
                inIndirect = true;
                continue;
            }

            // Bounding the walk by the queue size ends any loop (§2.7.5.3.1, §2.7.4.1).
            if (++buffers > Size) return VirtQueueError.ChainTooLong;
            if (len > int.MaxValue) return VirtQueueError.BufferTooLarge;
            bool writable = (flags & DescFlagWrite) != 0;
            if (!writable && seenWritable) return VirtQueueError.ReadableAfterWritable;
            seenWritable |= writable;
            if (len != 0 && !_memory.IsRange(addr, len, writable)) return VirtQueueError.BufferOutOfRange;
            _chain.Add(addr, len, writable);
            if ((flags & DescFlagNext) == 0) return VirtQueueError.None;
            if (next >= tableSize) return VirtQueueError.DescriptorIndexOutOfRange;
            index = next;
        }
    }

    /// <summary>
    /// Returns a chain to the driver through the used ring: the element first, then (release) the new
    /// used->idx, so the driver never sees the index before the element (§2.7.8).
    /// </summary>
    /// <param name="written">Bytes the device wrote into the chain's writable buffers.</param>
    public void Push(DescriptorChain chain, uint written)
    {
        if (IsBroken) return;
        if (written > chain.WritableLength) written = (uint)Math.Min(chain.WritableLength, uint.MaxValue);
        Span<byte> e = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(e, chain.Head);
        BinaryPrimitives.WriteUInt32LittleEndian(e[4..], written);
        if (!_memory.TryWrite(_used + 4 + 8UL * (uint)(_usedIdx & (Size - 1)), e)) { Fail(VirtQueueError.RingInaccessible); return; }
        _usedIdx++;
        if (!_memory.TryWriteU16Release(_used + 2, _usedIdx)) { Fail(VirtQueueError.RingInaccessible); return; }
        _pushedSinceCheck = true;
    }

    /// <summary>
    /// Whether the driver wants a used-buffer notification for what was pushed since the last call
    /// (§2.7.10): with EVENT_IDX, when used->idx passed the driver's used_event since the last check;
    /// otherwise unless it set VIRTQ_AVAIL_F_NO_INTERRUPT.
    /// </summary>
    public bool NeedsInterrupt()
    {
        if (!_pushedSinceCheck) return false;
        _pushedSinceCheck = false;
        // The used->idx store must be visible before the driver's suppression field is read, or an
        // interrupt the driver asked for in between could be missed.
        Interlocked.MemoryBarrier();
        ushort current = _usedIdx;
        if (_eventIdx)
        {
            if (!_memory.TryReadU16(_avail + 4 + 2UL * Size, out ushort usedEvent)) return true;
            bool valid = _signalledValid;
            ushort old = _signalledUsed;
            _signalledUsed = current;
            _signalledValid = true;
            // vring_need_event(used_event, new, old)
            return !valid || (ushort)(current - usedEvent - 1) < (ushort)(current - old);
        }
        return !_memory.TryReadU16(_avail, out ushort flags) || (flags & AvailFlagNoInterrupt) == 0;
    }

    private bool Broken(VirtQueueError error)
    {
        Fail(error);
        return false;
    }
}
