using Trapeze.Core.Memory;
using Trapeze.Devices.Fdt;
using Trapeze.Devices.Irq;

namespace Trapeze.Devices.Rtc;

/// <summary>
/// The Goldfish real-time clock (<c>google,goldfish-rtc</c>) as Linux's rtc-goldfish driver and QEMU's
/// virt board use it: 64-bit nanoseconds since the Unix epoch from the host wall clock (read TIME_LOW
/// first, which latches the high half for TIME_HIGH), settable by writing either half; a one-shot alarm
/// armed by writing ALARM_LOW; an interrupt raised when the alarm fires and enabled by IRQ_ENABLED.
/// Only aligned 32-bit accesses to the 0x24 bytes of registers are accepted, as in QEMU.
/// </summary>
public sealed class GoldfishRtc : IMmioDevice, IDeviceTreeNode, IDisposable
{
    public const ulong WindowSize = 0x1000;

    private const ulong RegisterSpan = 0x24;
    // Host timers cannot wait arbitrarily long; a far alarm is re-armed when this much has passed.
    private static readonly TimeSpan MaxTimerWait = TimeSpan.FromHours(1);

    private enum Register : ulong
    {
        TimeLow = 0x00,
        TimeHigh = 0x04,
        AlarmLow = 0x08,
        AlarmHigh = 0x0c,
        IrqEnabled = 0x10,
        ClearAlarm = 0x14,
        AlarmStatus = 0x18,
        ClearInterrupt = 0x1c,
    }

    private readonly object _lock = new();
    private readonly IrqLine _irq;
    private readonly TimeProvider _time;
    private ITimer? _timer;
    private bool _disposed;

    // Guest-visible state (GoldfishRtcState in snapshots).
    private ulong _offset;     // guest time minus host time, in ns (wrapping)
    private uint _timeHigh;    // latched by the last TIME_LOW read
    private ulong _alarm;
    private bool _alarmRunning;
    private bool _irqPending;
    private bool _irqEnabled;

    /// <param name="irq">The interrupt line (PLIC source 11 on virt).</param>
    /// <param name="time">The host clock and timers; <see cref="TimeProvider.System"/> by default.</param>
    public GoldfishRtc(IrqLine irq, TimeProvider? time = null, string name = "rtc")
    {
        _irq = irq;
        _time = time ?? TimeProvider.System;
        Name = name;
        Reset();
    }

    public string Name { get; }

    public ulong Size => WindowSize;

    public IrqLine Irq => _irq;

    /// <summary>The guest's current time, ns since the Unix epoch.</summary>
    public ulong Now
    {
        get { lock (_lock) return GuestNow(); }
    }

    /// <summary>Power-on state: alarm disarmed and cleared, interrupt disabled and clear. The clock keeps
    /// running (and keeps any offset the guest set).</summary>
    public void Reset()
    {
        lock (_lock)
        {
            Disarm();
            _alarm = 0;
            _timeHigh = 0;
            _irqPending = false;
            _irqEnabled = false;
            _irq.Lower();
        }
    }

    /// <summary>Captures the clock's offset from host time, the latch, the alarm and the interrupt.</summary>
    public GoldfishRtcState SaveState()
    {
        lock (_lock) return new GoldfishRtcState(_offset, _timeHigh, _alarm, _alarmRunning, _irqPending, _irqEnabled);
    }

    /// <summary>
    /// Puts the RTC in a saved state. The guest's time is host time plus the saved offset, so a restored guest's
    /// wall clock moves on by the time the snapshot lay unused, as a real clock would (QEMU's RTC follows the
    /// host clock too). A running alarm is armed again; one due meanwhile fires at once.
    /// </summary>
    public void RestoreState(GoldfishRtcState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        lock (_lock)
        {
            Disarm();
            _offset = state.Offset;
            _timeHigh = state.TimeHigh;
            _alarm = state.Alarm;
            _irqPending = state.IrqPending;
            _irqEnabled = state.IrqEnabled;
            if (state.AlarmRunning) Arm();
            UpdateIrq();
        }
    }

    public bool Read(ulong offset, int size, out ulong value)
    {
        value = 0;
        if (!MmioAccess.IsValid(offset, size, 4, 4, RegisterSpan)) return false;
        lock (_lock)
        {
            switch ((Register)offset)
            {
                case Register.TimeLow:
                    ulong now = GuestNow();
                    _timeHigh = (uint)(now >> 32);
                    value = now & 0xffff_ffff;
                    break;
                case Register.TimeHigh:
                    value = _timeHigh;
                    break;
                case Register.AlarmLow:
                    value = _alarm & 0xffff_ffff;
                    break;
                case Register.AlarmHigh:
                    value = _alarm >> 32;
                    break;
                case Register.IrqEnabled:
                    value = _irqEnabled ? 1UL : 0UL;
                    break;
                case Register.AlarmStatus:
                    value = _alarmRunning ? 1UL : 0UL;
                    break;
            }
        }
        return true;
    }

    public bool Write(ulong offset, int size, ulong value)
    {
        if (!MmioAccess.IsValid(offset, size, 4, 4, RegisterSpan)) return false;
        uint data = (uint)value;
        lock (_lock)
        {
            switch ((Register)offset)
            {
                case Register.TimeLow:
                    SetGuestTime((GuestNow() & 0xffff_ffff_0000_0000) | data);
                    break;
                case Register.TimeHigh:
                    SetGuestTime(((ulong)data << 32) | (GuestNow() & 0xffff_ffff));
                    break;
                case Register.AlarmLow:
                    _alarm = (_alarm & 0xffff_ffff_0000_0000) | data;
                    Arm();
                    break;
                case Register.AlarmHigh:
                    _alarm = ((ulong)data << 32) | (_alarm & 0xffff_ffff);
                    break;
                case Register.IrqEnabled:
                    _irqEnabled = (data & 1) != 0;
                    UpdateIrq();
                    break;
                case Register.ClearAlarm:
                    Disarm();
                    break;
                case Register.ClearInterrupt:
                    _irqPending = false;
                    UpdateIrq();
                    break;
            }
        }
        return true;
    }

    public void AddTo(FdtBuilder fdt, DeviceTreeContext context)
    {
        fdt.BeginNode($"rtc@{context.UnitAddress}");
        if (_irq.IsConnected)
        {
            fdt.PropertyU32("interrupts", (uint)_irq.Number);
            fdt.PropertyU32("interrupt-parent", context.InterruptParent);
        }
        fdt.PropertyCells("reg", context.BaseAddress, WindowSize);
        fdt.PropertyString("compatible", "google,goldfish-rtc");
        fdt.EndNode();
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            Disarm();
        }
    }

    private ulong HostNow() =>
        unchecked((ulong)(_time.GetUtcNow().UtcTicks - DateTime.UnixEpoch.Ticks) * 100);

    private ulong GuestNow() => unchecked(HostNow() + _offset);

    private void SetGuestTime(ulong time)
    {
        _offset = unchecked(time - HostNow());
        // The alarm is absolute guest time: a clock step may bring it forward or push it away.
        if (_alarmRunning) Arm();
    }

    /// <summary>Arms the alarm for <see cref="_alarm"/>; one already due fires at once (as QEMU).</summary>
    private void Arm()
    {
        _timer?.Dispose();
        _timer = null;
        ulong now = GuestNow();
        if (_alarm <= now)
        {
            Fire();
            return;
        }
        _alarmRunning = true;
        if (_disposed) return;
        ulong waitNs = _alarm - now;
        ulong waitTicks = waitNs / 100 + (waitNs % 100 != 0 ? 1UL : 0UL); // round up: never early
        TimeSpan wait = waitTicks >= (ulong)MaxTimerWait.Ticks ? MaxTimerWait : TimeSpan.FromTicks((long)waitTicks);
        _timer = _time.CreateTimer(OnTimer, null, wait, Timeout.InfiniteTimeSpan);
    }

    private void OnTimer(object? state)
    {
        lock (_lock)
        {
            if (!_alarmRunning || _disposed) return;
            // Re-arming either fires (the alarm is due) or waits again (a long alarm, or the clock moved).
            Arm();
        }
    }

    private void Disarm()
    {
        _timer?.Dispose();
        _timer = null;
        _alarmRunning = false;
    }

    private void Fire()
    {
        _alarmRunning = false;
        _irqPending = true;
        UpdateIrq();
    }

    private void UpdateIrq() => _irq.Set(_irqPending && _irqEnabled);
}

/// <summary>What a snapshot keeps of the Goldfish RTC. <paramref name="Offset"/>: guest time minus host time in
/// ns (wrapping); <paramref name="TimeHigh"/>: the half latched by the last TIME_LOW read.</summary>
public sealed record GoldfishRtcState(ulong Offset, uint TimeHigh, ulong Alarm, bool AlarmRunning, bool IrqPending, bool IrqEnabled);
