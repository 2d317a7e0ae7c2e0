using System.Collections.Concurrent;

namespace Trapeze.Devices.Virtio.Net;

/// <summary>
/// A bounded queue of frames and the thread that writes them to the host: the producer (the device
/// worker) never blocks; when the host is slower than the guest, frames past the bound are refused and
/// the caller counts them as dropped.
/// </summary>
internal sealed class FrameSender : IDisposable
{
    public const int DefaultCapacity = 256;

    private readonly BlockingCollection<byte[]> _queue;
    private readonly Action<byte[]> _write;
    private readonly Thread _thread;

    /// <param name="write">Writes one frame, on the sender's thread; may block on the host.</param>
    public FrameSender(string name, Action<byte[]> write, int capacity = DefaultCapacity)
    {
        _queue = new BlockingCollection<byte[]>(capacity);
        _write = write;
        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.Start();
    }

    public bool TryAdd(ReadOnlySpan<byte> frame)
    {
        try { return _queue.TryAdd(frame.ToArray()); }
        catch (InvalidOperationException) { return false; } // completed: shutting down
    }

    private void Run()
    {
        foreach (byte[] frame in _queue.GetConsumingEnumerable()) _write(frame);
    }

    public void Dispose()
    {
        _queue.CompleteAdding();
        _thread.Join(TimeSpan.FromSeconds(2));
    }
}
