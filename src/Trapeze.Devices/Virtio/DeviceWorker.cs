namespace Trapeze.Devices.Virtio;

/// <summary>
/// Runs a device's queue processing off the hart threads: a notify (an MMIO write on a hart) only sets a
/// bit and, when the bits were clear, wakes the device's own thread; the hart returns at once. Runs of one
/// device never overlap (they hold <see cref="ProcessLock"/>), so a device needs no locking of its own for
/// queue state. A hart that must wait for the device to be quiet (a reset) takes the same lock.
/// <para>A thread per device rather than the thread pool: device work blocks on host I/O (a flush, a large
/// read), and pool threads busy with one disk must not delay another device — a Linux console driver
/// spins until its transmit buffer comes back. The thread starts with the first notify.</para>
/// </summary>
internal sealed class DeviceWorker(string name, Action<ulong> process) : IDisposable
{
    private readonly Action<ulong> _process = process;
    private readonly SemaphoreSlim _wake = new(0);
    private readonly object _startLock = new();
    private Thread? _thread;
    private long _pending;   // queues asked for, one bit each
    private int _busy;       // 1 from taking bits until they are processed
    private volatile bool _disposed;
    private bool _paused;    // changed and read under ProcessLock

    /// <summary>Held while the device processes queues.</summary>
    public object ProcessLock { get; } = new();

    /// <summary>Nothing is asked for or being processed.</summary>
    public bool IsIdle => Volatile.Read(ref _pending) == 0 && Volatile.Read(ref _busy) == 0;

    public void Schedule(ulong queues)
    {
        if (queues == 0 || _disposed) return;
        // Wake the thread when the bits go from none to some; it always drains the bits before it
        // sleeps again, so a notify is never left behind (at worst it wakes once for nothing).
        if (Interlocked.Or(ref _pending, (long)queues) != 0) return;
        if (_thread == null) Start();
        _wake.Release();
    }

    private void Start()
    {
        lock (_startLock)
        {
            if (_thread != null || _disposed) return;
            _thread = new Thread(Run) { IsBackground = true, Name = name };
            _thread.Start();
        }
    }

    private void Run()
    {
        while (true)
        {
            _wake.Wait();
            if (_disposed) return;
            while (true)
            {
                // Busy before the bits are taken, so that an observer never sees neither.
                Interlocked.Exchange(ref _busy, 1);
                long queues = Interlocked.Exchange(ref _pending, 0);
                if (queues == 0)
                {
                    Interlocked.Exchange(ref _busy, 0);
                    if (Volatile.Read(ref _pending) == 0) break;
                    continue;
                }
                bool paused;
                lock (ProcessLock)
                {
                    paused = _paused;
                    if (!paused && !_disposed) _process((ulong)queues);
                }
                if (paused)
                {
                    // Kept for Resume; the thread sleeps until then (Resume wakes it).
                    Interlocked.Or(ref _pending, queues);
                    Interlocked.Exchange(ref _busy, 0);
                    break;
                }
            }
        }
    }

    /// <summary>Holds the device still: returns once the run in progress (if any) has finished, after which no run
    /// starts — so no DMA — until <see cref="Resume"/>. Notifications meanwhile are kept, not lost.</summary>
    public void Pause()
    {
        lock (ProcessLock) _paused = true;
    }

    /// <summary>Ends a <see cref="Pause"/> and serves what was asked for meanwhile.</summary>
    public void Resume()
    {
        lock (ProcessLock) _paused = false;
        if (Volatile.Read(ref _pending) == 0 || _disposed) return;
        if (_thread == null) Start();
        _wake.Release();
    }

    /// <summary>Waits until nothing is asked for or being processed; false on time-out.</summary>
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
            spinner.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>Stops the thread; returns once no run is in progress.</summary>
    public void Dispose()
    {
        _disposed = true;
        lock (ProcessLock) { }
        _wake.Release();
        Thread? t;
        lock (_startLock) t = _thread;
        if (t != null && t != Thread.CurrentThread) t.Join();
        // _wake is not disposed: a notify racing with teardown may still release it (it holds no handle).
    }
}
