using System.Diagnostics;

namespace Trapeze.Core.Cpu;

/// <summary>
/// The board's timebase (mtime), 10 MHz as on QEMU's virt board, derived from the host's monotonic clock.
/// It can be paused (a paused VM sees no time pass) and set (restoring a snapshot).
/// </summary>
public sealed class MachineClock
{
    public const ulong Frequency = 10_000_000;

    private readonly object _lock = new();
    private long _baseTimestamp = Stopwatch.GetTimestamp();
    private ulong _baseTicks;
    private bool _paused;

    /// <summary>The current mtime value.</summary>
    public ulong Now
    {
        get
        {
            if (Volatile.Read(ref _paused)) return Volatile.Read(ref _baseTicks);
            long elapsed = Stopwatch.GetTimestamp() - Volatile.Read(ref _baseTimestamp);
            return Volatile.Read(ref _baseTicks) + ToTicks(elapsed);
        }
    }

    /// <summary>Sets mtime (a write to the CLINT's mtime register, or a snapshot restore).</summary>
    public void Set(ulong ticks)
    {
        lock (_lock)
        {
            _baseTicks = ticks;
            _baseTimestamp = Stopwatch.GetTimestamp();
        }
    }

    public bool IsPaused => Volatile.Read(ref _paused);

    public void Pause()
    {
        lock (_lock)
        {
            if (_paused) return;
            _baseTicks = Now;
            _paused = true;
        }
    }

    public void Resume()
    {
        lock (_lock)
        {
            if (!_paused) return;
            _baseTimestamp = Stopwatch.GetTimestamp();
            _paused = false;
        }
    }

    /// <summary>Host time until mtime reaches <paramref name="ticks"/>, for sleeping in WFI.</summary>
    public TimeSpan Until(ulong ticks)
    {
        ulong now = Now;
        if (ticks <= now) return TimeSpan.Zero;
        ulong delta = ticks - now;
        // Cap long sleeps; the caller re-evaluates after waking.
        if (delta > Frequency * 3600) return TimeSpan.FromHours(1);
        return TimeSpan.FromTicks((long)(delta * (ulong)TimeSpan.TicksPerSecond / Frequency));
    }

    /// <summary>Captures mtime. Meant for a paused clock, whose value stands still.</summary>
    public MachineClockState SaveState() => new(Now);

    /// <summary>Sets mtime from a snapshot; a paused clock stays paused at that value.</summary>
    public void RestoreState(MachineClockState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        Set(state.Ticks);
    }

    private static ulong ToTicks(long stopwatchTicks) =>
        (ulong)((Int128)stopwatchTicks * (long)Frequency / Stopwatch.Frequency);
}

/// <summary>What a snapshot keeps of the board's timebase: mtime when it was taken.</summary>
public sealed record MachineClockState(ulong Ticks);
