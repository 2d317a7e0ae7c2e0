using Trapeze.Devices.Rtc;

namespace Trapeze.Devices.Tests;

public sealed class GoldfishRtcTests
{
    private const ulong TimeLow = 0x00, TimeHigh = 0x04, AlarmLow = 0x08, AlarmHigh = 0x0c,
        IrqEnabled = 0x10, ClearAlarm = 0x14, AlarmStatus = 0x18, ClearInterrupt = 0x1c;

    private static readonly DateTimeOffset Start = new(2024, 5, 17, 12, 0, 0, TimeSpan.Zero);
    private static readonly ulong StartNs = (ulong)(Start.UtcTicks - DateTime.UnixEpoch.Ticks) * 100;

    private sealed class Rig
    {
        public readonly FakeIrqSink Sink = new();
        public readonly ManualTimeProvider Time = new(Start);
        public readonly GoldfishRtc Rtc;

        public Rig() => Rtc = new GoldfishRtc(Sink.Line(11), Time);

        public bool Irq => Sink.Level(11);

        public uint In(ulong offset)
        {
            Assert.True(Rtc.Read(offset, 4, out ulong value));
            return (uint)value;
        }

        public void Out(ulong offset, uint value) => Assert.True(Rtc.Write(offset, 4, value));

        public ulong ReadTime()
        {
            ulong low = In(TimeLow);
            return (ulong)In(TimeHigh) << 32 | low;
        }

        public void SetAlarm(ulong ns)
        {
            Out(AlarmHigh, (uint)(ns >> 32));
            Out(AlarmLow, (uint)ns);
        }
    }

    [Fact]
    public void Time_is_host_wall_clock_nanoseconds_since_the_epoch()
    {
        var rig = new Rig();
        Assert.Equal(StartNs, rig.ReadTime());
        rig.Time.Advance(TimeSpan.FromSeconds(3));
        Assert.Equal(StartNs + 3_000_000_000, rig.ReadTime());
    }

    [Fact]
    public void Reading_time_low_latches_time_high()
    {
        var rig = new Rig();
        uint low = rig.In(TimeLow);
        uint high = rig.In(TimeHigh);
        // Move time far enough to change the high half; TIME_HIGH still reports the latched value.
        rig.Time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(high, rig.In(TimeHigh));
        Assert.Equal(StartNs, (ulong)high << 32 | low);
        Assert.NotEqual(high, (uint)((StartNs + 10_000_000_000) >> 32)); // it really did change
    }

    [Fact]
    public void Guest_can_set_the_time_high_then_low()
    {
        var rig = new Rig();
        const ulong target = 0x1234_5678_9abc_def0;
        rig.Out(TimeHigh, (uint)(target >> 32));
        rig.Out(TimeLow, unchecked((uint)target));
        Assert.Equal(target, rig.ReadTime());
        rig.Time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(target + 1_000_000, rig.ReadTime());
    }

    [Fact]
    public void Alarm_fires_raises_the_irq_when_enabled_and_clears()
    {
        var rig = new Rig();
        rig.Out(IrqEnabled, 1);
        rig.SetAlarm(StartNs + 5_000_000_000);
        Assert.Equal(1u, rig.In(AlarmStatus));
        Assert.Equal((uint)((StartNs + 5_000_000_000) >> 32), rig.In(AlarmHigh));
        Assert.Equal((uint)(StartNs + 5_000_000_000), rig.In(AlarmLow));
        rig.Time.Advance(TimeSpan.FromSeconds(4));
        Assert.False(rig.Irq);
        rig.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.True(rig.Irq);
        Assert.Equal(0u, rig.In(AlarmStatus));
        rig.Out(ClearInterrupt, 1);
        Assert.False(rig.Irq);
    }

    [Fact]
    public void A_past_alarm_fires_at_once_and_irq_enable_gates_the_line()
    {
        var rig = new Rig();
        rig.SetAlarm(StartNs - 1);
        Assert.Equal(0u, rig.In(AlarmStatus));
        Assert.False(rig.Irq); // pending but not enabled
        rig.Out(IrqEnabled, 1);
        Assert.True(rig.Irq);
        Assert.Equal(1u, rig.In(IrqEnabled));
        rig.Out(IrqEnabled, 0);
        Assert.False(rig.Irq);
    }

    [Fact]
    public void Clear_alarm_disarms()
    {
        var rig = new Rig();
        rig.Out(IrqEnabled, 1);
        rig.SetAlarm(StartNs + 1_000_000);
        rig.Out(ClearAlarm, 1);
        Assert.Equal(0u, rig.In(AlarmStatus));
        Assert.Equal(0, rig.Time.ActiveTimers);
        rig.Time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(rig.Irq);
    }

    [Fact]
    public void A_far_alarm_is_rearmed_until_due()
    {
        var rig = new Rig();
        rig.Out(IrqEnabled, 1);
        rig.SetAlarm(StartNs + (ulong)TimeSpan.FromDays(3).Ticks * 100);
        rig.Time.Advance(TimeSpan.FromDays(2));
        Assert.False(rig.Irq);
        Assert.Equal(1u, rig.In(AlarmStatus));
        rig.Time.Advance(TimeSpan.FromDays(1));
        Assert.True(rig.Irq);
    }

    [Fact]
    public void Setting_the_clock_past_an_armed_alarm_fires_it()
    {
        var rig = new Rig();
        rig.Out(IrqEnabled, 1);
        rig.SetAlarm(StartNs + 60_000_000_000);
        ulong later = StartNs + 120_000_000_000;
        rig.Out(TimeHigh, (uint)(later >> 32));
        rig.Out(TimeLow, (uint)later);
        Assert.True(rig.Irq);
    }

    [Fact]
    public void Only_aligned_32_bit_accesses_to_the_registers_are_accepted()
    {
        var rig = new Rig();
        Assert.False(rig.Rtc.Read(TimeLow, 8, out _));
        Assert.False(rig.Rtc.Read(TimeLow, 1, out _));
        Assert.False(rig.Rtc.Read(0x2, 4, out _));
        Assert.False(rig.Rtc.Read(0x24, 4, out _));
        Assert.False(rig.Rtc.Write(0x800, 4, 0));
        Assert.True(rig.Rtc.Read(0x20, 4, out ulong value)); // unimplemented but mapped: 0
        Assert.Equal(0ul, value);
        Assert.Equal(0x1000ul, rig.Rtc.Size);
    }

    [Fact]
    public void Reset_disarms_and_lowers_the_line()
    {
        var rig = new Rig();
        rig.Out(IrqEnabled, 1);
        rig.SetAlarm(StartNs);
        Assert.True(rig.Irq);
        rig.SetAlarm(StartNs + 1_000_000_000);
        rig.Rtc.Reset();
        Assert.False(rig.Irq);
        Assert.Equal(0u, rig.In(AlarmStatus));
        Assert.Equal(0u, rig.In(IrqEnabled));
        Assert.Equal(0, rig.Time.ActiveTimers);
    }

    [Fact]
    public void Works_on_the_system_clock()
    {
        var sink = new FakeIrqSink();
        using var rtc = new GoldfishRtc(sink.Line(11));
        ulong now = (ulong)(DateTimeOffset.UtcNow.UtcTicks - DateTime.UnixEpoch.Ticks) * 100;
        Assert.True(rtc.Read(TimeLow, 4, out ulong low));
        Assert.True(rtc.Read(TimeHigh, 4, out ulong high));
        ulong time = high << 32 | low;
        Assert.InRange((long)(time - now), -1_000_000_000L, 1_000_000_000L);
        Assert.True(rtc.Write(IrqEnabled, 4, 1));
        ulong alarm = time + 20_000_000; // 20 ms
        Assert.True(rtc.Write(AlarmHigh, 4, alarm >> 32));
        Assert.True(rtc.Write(AlarmLow, 4, alarm & 0xffff_ffff));
        Assert.True(SpinWait.SpinUntil(() => sink.Level(11), TimeSpan.FromSeconds(10)));
    }
}
