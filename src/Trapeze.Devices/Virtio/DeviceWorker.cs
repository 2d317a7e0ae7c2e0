namespace Trapeze.Devices.Virtio;

/// <summary>
/// Runs a device's queue processing off the hart threads: a notify (an MMIO write on a hart) only sets a
/// bit and, when no run is pending, queues one work item on the thread pool; the hart returns at once.
/// Runs of one device never overlap (they hold <see cref="ProcessLock"/>), so a device needs no locking
/// of its own for queue state. A hart that must wait for the device to be quiet (a reset) takes the same
/// lock.
/// </summary>
internal sealed class DeviceWorker(Action<ulong> process) : IThreadPoolWorkItem
{
    private readonly Action<ulong> _process = process;
    private long _pending;   // queues asked for, one bit each
    private int _scheduled;  // 1 while a work item is queued or running
    private volatile bool _disposed;

    /// <summary>Held while the device processes queues.</summary>
    public object ProcessLock { get; } = new();

    /// <summary>No run is queued, running or asked for.</summary>
    public bool IsIdle => Volatile.Read(ref _scheduled) == 0 && Volatile.Read(ref _pending) == 0;

    public void Schedule(ulong queues)
    {
        if (queues == 0 || _disposed) return;
        Interlocked.Or(ref _pending, (long)queues);
        if (Interlocked.CompareExchange(ref _scheduled, 1, 0) == 0)
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    public void Execute()
    {
        while (true)
        {
            long queues = Interlocked.Exchange(ref _pending, 0);
            if (queues != 0)
            {
                lock (ProcessLock)
                {
                    if (!_disposed) _process((ulong)queues);
                }
                continue;
            }
            // A full fence, not a release store: the store must be visible before _pending is read
            // again, or a Schedule in between can see a run in progress while this one already saw no
            // bits (a store-load reordering) and the notify is lost.
            Interlocked.Exchange(ref _scheduled, 0);
            // A Schedule between the exchange above and here saw a run in progress and queued none:
            // take its bits here unless a newer run already has.
            if (Volatile.Read(ref _pending) == 0 || Interlocked.CompareExchange(ref _scheduled, 1, 0) != 0) return;
        }
    }

    /// <summary>Waits until no run is queued or running; false on time-out.</summary>
    public bool WaitForIdle(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var spinner = new SpinWait();
        while (true)
        {
            if (IsIdle)
            {
                lock (ProcessLock) { }
                if (IsIdle) return true;
            }
            if (DateTime.UtcNow >= deadline) return false;
            spinner.SpinOnce();
        }
    }

    /// <summary>Stops running the device; returns once no run is in progress.</summary>
    public void Dispose()
    {
        _disposed = true;
        lock (ProcessLock) { }
    }
}
