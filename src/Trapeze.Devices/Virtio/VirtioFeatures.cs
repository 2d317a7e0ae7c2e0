namespace Trapeze.Devices.Virtio;

/// <summary>Feature bits the transport and the split virtqueue implement for every device (virtio 1.2 §6).
/// Device-specific bits (0–23) are declared by each device.</summary>
public static class VirtioFeatures
{
    /// <summary>§2.7.5.3: descriptors may point to a table of descriptors.</summary>
    public const ulong RingIndirectDesc = 1UL << 28;

    /// <summary>§2.7.10: the <c>used_event</c> / <c>avail_event</c> notification suppression.</summary>
    public const ulong RingEventIdx = 1UL << 29;

    /// <summary>§6.1: a modern (non-legacy) driver; required on virtio-mmio version 2.</summary>
    public const ulong Version1 = 1UL << 32;

    /// <summary>The transport's own offer, added to every device's.</summary>
    public const ulong Transport = RingIndirectDesc | RingEventIdx | Version1;
}
