namespace Trapeze.Devices.Virtio.Net;

/// <summary>
/// Where a virtio-net device's Ethernet frames go to and come from (a socket, a TAP interface, a test).
/// A backend does its I/O on threads of its own: <see cref="TrySend"/> never blocks and the device worker
/// and the harts never wait for the host network.
/// </summary>
public interface INetBackend : IDisposable
{
    /// <summary>Short description for diagnostics ("socket listen 127.0.0.1:5555").</summary>
    string Name { get; }

    /// <summary>True while frames can travel (a socket peer is connected).</summary>
    bool LinkUp { get; }

    /// <summary>Starts the I/O threads; frames and link changes go to <paramref name="sink"/> from them.</summary>
    void Start(INetBackendSink sink);

    /// <summary>Queues one frame for the host without blocking; false when it was dropped (the link is
    /// down or the transmit queue is full). The frame is copied.</summary>
    bool TrySend(ReadOnlySpan<byte> frame);
}

/// <summary>What a backend delivers to its device, on the backend's own threads.</summary>
public interface INetBackendSink
{
    /// <summary>A frame arrived from the host side; the span is valid only during the call.</summary>
    void OnFrameReceived(ReadOnlySpan<byte> frame);

    /// <summary>The link went up or down (a socket peer connected or went away).</summary>
    void OnLinkChanged(bool up);
}
