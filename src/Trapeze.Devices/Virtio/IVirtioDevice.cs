namespace Trapeze.Devices.Virtio;

/// <summary>
/// A virtio device behind a transport (STYLE rule 6: the device owns its device type, features, queues and
/// configuration layout; the transport owns registers, negotiation, interrupts and the device tree node).
/// The transport calls <see cref="Activate"/>, <see cref="Process"/> and <see cref="Reset"/> one at a time,
/// never concurrently, from its device worker (or, for activation and reset, from the hart thread that
/// wrote the status register while the worker is held off).
/// </summary>
public interface IVirtioDevice
{
    VirtioDeviceType DeviceType { get; }

    /// <summary>Short name for diagnostics ("virtio-blk").</summary>
    string Name { get; }

    /// <summary>Device-specific feature bits offered (the transport adds <see cref="VirtioFeatures.Transport"/>).</summary>
    ulong Features { get; }

    /// <summary>Number of virtqueues (at most 64).</summary>
    int QueueCount { get; }

    /// <summary>The QueueNumMax of every queue: a power of two, at most <see cref="VirtQueue.MaxSize"/>.</summary>
    ushort MaxQueueSize { get; }

    /// <summary>Connects the device to its transport, once, before anything else.</summary>
    void Attach(IVirtioTransport transport);

    /// <summary>Reads device configuration bytes [offset, offset + data.Length); bytes past the end of the
    /// device's configuration read as zero. Called on hart threads, concurrently with <see cref="Process"/>.</summary>
    void ReadConfig(uint offset, Span<byte> data);

    /// <summary>Writes device configuration bytes (most fields are read-only: ignore those writes).</summary>
    void WriteConfig(uint offset, ReadOnlySpan<byte> data);

    /// <summary>The driver set DRIVER_OK with <paramref name="features"/> negotiated.</summary>
    void Activate(ulong features);

    /// <summary>Serves queue <paramref name="index"/> on the device worker: pop chains, do the work, push
    /// them back. Must not throw for anything the guest does (a broken request breaks the queue instead,
    /// <see cref="VirtQueue.Fail"/>) and must not wait for the guest.</summary>
    void Process(int index, VirtQueue queue);

    /// <summary>Returns to the power-on state (the driver wrote 0 to the status register). No request is in
    /// flight when this is called.</summary>
    void Reset();

    /// <summary>The device's own part of a snapshot (what the transport's registers and rings do not say), or
    /// null when it has none. Called with the device held still: no request in flight.</summary>
    VirtioDeviceState? SaveState() => null;

    /// <summary>Puts back what <see cref="SaveState"/> returned (null: nothing). Called with the device held
    /// still, before <see cref="Activate"/> is called again for a device the driver had started (so a device
    /// whose negotiated features are all it keeps needs no state of its own).</summary>
    void RestoreState(VirtioDeviceState? state)
    {
        if (state != null) throw new ArgumentException($"{Name} keeps no state, but was given {state.GetType().Name}");
    }
}

/// <summary>A virtio device's own part of a snapshot (STYLE rule 8); each device with one derives a record.</summary>
public abstract record VirtioDeviceState;

/// <summary>What a device sees of its transport.</summary>
public interface IVirtioTransport
{
    /// <summary>Asks for <see cref="IVirtioDevice.Process"/> of queue <paramref name="index"/> on the device
    /// worker (host-side events: console input arrived). Callable from any thread; never blocks.</summary>
    void Kick(int index);

    /// <summary>The device changed its configuration: bump ConfigGeneration and send a configuration
    /// change notification.</summary>
    void NotifyConfigChanged();

    /// <summary>True when the driver has set DRIVER_OK and the device is not waiting for a reset.</summary>
    bool IsDriverReady { get; }
}
