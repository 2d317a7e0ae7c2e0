using Trapeze.Core.Cpu;
using Trapeze.Devices.Irq;

namespace Trapeze.Devices.Tests;

/// <summary>Records what a device drives onto a hart's interrupt pins.</summary>
internal sealed class FakeHartPins(int hartId) : IHartPins
{
    private readonly object _lock = new();

    public int HartId { get; } = hartId;
    public bool Msip { get; private set; }
    public ulong Mtimecmp { get; private set; } = ulong.MaxValue;
    public bool Meip { get; private set; }
    public bool Seip { get; private set; }
    public int MtimecmpWrites { get; private set; }
    public List<string> Log { get; } = [];

    public void SetMachineSoftwareInterrupt(bool level)
    {
        lock (_lock) { Msip = level; Log.Add($"msip={level}"); }
    }

    public void SetMachineTimerCompare(ulong mtimecmp)
    {
        lock (_lock) { Mtimecmp = mtimecmp; MtimecmpWrites++; Log.Add($"mtimecmp={mtimecmp:x}"); }
    }

    public void SetMachineExternalInterrupt(bool level)
    {
        lock (_lock) { Meip = level; Log.Add($"meip={level}"); }
    }

    public void SetSupervisorExternalInterrupt(bool level)
    {
        lock (_lock) { Seip = level; Log.Add($"seip={level}"); }
    }

    public static FakeHartPins[] Create(int count)
    {
        var harts = new FakeHartPins[count];
        for (int i = 0; i < count; i++) harts[i] = new FakeHartPins(i);
        return harts;
    }
}

/// <summary>An interrupt controller stand-in: remembers each source's level and counts changes.</summary>
internal sealed class FakeIrqSink : IIrqSink
{
    private readonly Dictionary<int, bool> _levels = [];
    public int Calls { get; private set; }

    public void SetIrqLevel(int source, bool level)
    {
        lock (_levels) { _levels[source] = level; Calls++; }
    }

    public bool Level(int source)
    {
        lock (_levels) return _levels.TryGetValue(source, out bool level) && level;
    }

    public IrqLine Line(int source) => new(this, source);
}

/// <summary>A clock and timers that move only when the test says so.</summary>
internal sealed class ManualTimeProvider(DateTimeOffset start) : TimeProvider
{
    private readonly List<ManualTimer> _timers = [];
    private DateTimeOffset _now = start;

    public override DateTimeOffset GetUtcNow()
    {
        lock (_timers) return _now;
    }

    public int ActiveTimers
    {
        get { lock (_timers) return _timers.Count(t => t.DueAt is not null); }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ManualTimer(this, callback, state);
        timer.Change(dueTime, period);
        lock (_timers) _timers.Add(timer);
        return timer;
    }

    public void Advance(TimeSpan by)
    {
        DateTimeOffset target;
        lock (_timers) target = _now + by;
        while (true)
        {
            ManualTimer? next = null;
            lock (_timers)
            {
                foreach (ManualTimer t in _timers)
                {
                    if (t.DueAt is { } due && due <= target && (next is null || due < next.DueAt)) next = t;
                }
                if (next is null)
                {
                    _now = target;
                    return;
                }
                _now = next.DueAt!.Value;
                next.DueAt = null;
            }
            next.Fire();
        }
    }

    private sealed class ManualTimer(ManualTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        public DateTimeOffset? DueAt { get; set; }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (owner._timers) DueAt = dueTime == Timeout.InfiniteTimeSpan ? null : owner._now + dueTime;
            return true;
        }

        public void Fire() => callback(state);

        public void Dispose()
        {
            lock (owner._timers) { DueAt = null; owner._timers.Remove(this); }
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
