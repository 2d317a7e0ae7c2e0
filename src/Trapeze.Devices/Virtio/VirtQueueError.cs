namespace Trapeze.Devices.Virtio;

/// <summary>
/// Why a virtqueue stopped: what the guest put in it broke a rule of virtio 1.2 §2.7 (or of the device's
/// request format). Any of these puts the device in DEVICE_NEEDS_RESET.
/// </summary>
public enum VirtQueueError
{
    None,
    /// <summary>The ring memory itself (descriptor table, avail or used ring) could not be accessed.</summary>
    RingInaccessible,
    /// <summary>avail->idx moved ahead of the device by more than the queue size (§2.7.6).</summary>
    AvailIndexJump,
    /// <summary>A head or next index outside the descriptor table.</summary>
    DescriptorIndexOutOfRange,
    /// <summary>More descriptors in one chain than the queue size: a loop, or a chain that is too long.</summary>
    ChainTooLong,
    /// <summary>A buffer that is not wholly inside guest memory (or a device-writable one in read-only memory).</summary>
    BufferOutOfRange,
    /// <summary>A buffer longer than the device handles in one descriptor (2 GiB).</summary>
    BufferTooLarge,
    /// <summary>A device-readable descriptor after a device-writable one (§2.7.4.2).</summary>
    ReadableAfterWritable,
    /// <summary>An indirect descriptor although VIRTIO_F_RING_INDIRECT_DESC was not negotiated.</summary>
    IndirectNotNegotiated,
    /// <summary>An indirect descriptor inside an indirect table (§2.7.5.3.1).</summary>
    IndirectInIndirect,
    /// <summary>An indirect descriptor with VIRTQ_DESC_F_NEXT, or one that does not head its chain.</summary>
    IndirectMisplaced,
    /// <summary>An indirect table whose length is zero or not a multiple of 16 bytes.</summary>
    IndirectBadLength,
    /// <summary>A request the device cannot even answer (e.g. a block request with no room for its status).</summary>
    MalformedRequest,
    /// <summary>The queue configuration is unusable (size not a power of two, rings misaligned or not in memory).</summary>
    BadQueueConfiguration,
    /// <summary>The device failed internally while serving the queue (a bug, reported rather than thrown).</summary>
    DeviceFailure,
}
