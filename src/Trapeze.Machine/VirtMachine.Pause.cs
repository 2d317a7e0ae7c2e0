using Trapeze.Devices.Virtio;

namespace Trapeze.Machine;

/// <summary>Pause and resume: the machine held still, as QEMU's vm_stop holds it, so that its state can be read
/// or replaced (snapshots, migration).</summary>
public sealed partial class VirtMachine
{
    /// <summary>Serializes Pause, Resume and the snapshot operations built on them.</summary>
    private readonly object _controlLock = new();
    private volatile bool _paused;

    /// <summary>The machine whose hart runs on this thread, if any: a pause from there would wait for itself.</summary>
    [ThreadStatic] private static VirtMachine? _hartOfThisThread;

    /// <summary>True between <see cref="Pause"/> and <see cref="Resume"/>.</summary>
    public bool IsPaused => _paused;

    /// <summary>
    /// Holds the machine still and returns once it is: every hart has stopped at an instruction boundary (a hart
    /// asleep in WFI or parked stops where it sleeps), every virtio device has finished its request in progress
    /// and does no DMA, and the board clock stands still — guest time does not pass while paused. A running
    /// <see cref="Run"/> keeps waiting (a pause is not a power-off); a machine not running yet is simply marked
    /// paused, and a later <see cref="Run"/> waits for <see cref="Resume"/>. Host input still queues up in the
    /// consoles meanwhile. Idempotent. Any thread but a hart's.
    /// </summary>
    public void Pause()
    {
        if (_hartOfThisThread == this)
            throw new InvalidOperationException("a machine cannot be paused from one of its own hart threads (a device or console callback)");
        lock (_controlLock)
        {
            if (_paused) return;
            lock (_runLock)
            {
                _pauseRequested = true;
                foreach (var h in Harts) h.RequestStop();
                _stopEvent.Set();
                while (_runnerBusy) Monitor.Wait(_runLock);
            }
            // No hart thread runs now. What other harts asked of a stopped hart is done before anything else
            // happens (a fence whose poster stopped waiting when the pause began, an HSM start handed over).
            foreach (var h in Harts) h.SettleStopped();
            foreach (VirtioMmioTransport t in Virtio) t.Pause();
            Clock.Pause();
            _paused = true;
        }
    }

    /// <summary>Lets a paused machine go on: the clock runs again from where it stood, devices serve what was
    /// asked of them meanwhile, and <see cref="Run"/> starts the harts again. Does nothing when not paused.</summary>
    public void Resume()
    {
        lock (_controlLock)
        {
            if (!_paused) return;
            Clock.Resume();
            foreach (VirtioMmioTransport t in Virtio) t.Resume();
            _paused = false;
            lock (_runLock)
            {
                _pauseRequested = false;
                Monitor.PulseAll(_runLock);
            }
        }
    }

    /// <summary>Runs <paramref name="action"/> on the machine held still, pausing it first if it was not paused
    /// and resuming it afterwards in that case (also when <paramref name="action"/> throws).</summary>
    internal T WhilePaused<T>(Func<T> action)
    {
        lock (_controlLock)
        {
            bool wasPaused = _paused;
            if (!wasPaused) Pause();
            try
            {
                return action();
            }
            finally
            {
                if (!wasPaused) Resume();
            }
        }
    }
}
