using Trapeze.Core.Cpu;
using Trapeze.Core.Memory;
using Trapeze.Devices.Irq;
using Trapeze.Devices.Power;
using Trapeze.Devices.Rtc;
using Trapeze.Devices.Serial;

namespace Trapeze.Devices.Tests;

/// <summary>No guest access, however wild, may throw into the hart.</summary>
public sealed class RobustnessTests
{
    private static IEnumerable<IMmioDevice> Devices(FakeHartPins[] harts, FakeIrqSink sink, ManualTimeProvider time)
    {
        yield return new Plic(harts);
        yield return new Aclint(harts, new MachineClock());
        yield return new Ns16550(sink.Line(10), _ => { }, backlogCapacity: 8);
        yield return new GoldfishRtc(sink.Line(11), time);
        yield return new SifiveTest(_ => { });
    }

    [Fact]
    public void Random_accesses_never_throw()
    {
        FakeHartPins[] harts = FakeHartPins.Create(3);
        var sink = new FakeIrqSink();
        var time = new ManualTimeProvider(DateTimeOffset.UnixEpoch);
        var random = new Random(20240517);
        int[] sizes = [-1, 0, 1, 2, 3, 4, 5, 8, 16, int.MaxValue, int.MinValue];
        foreach (IMmioDevice device in Devices(harts, sink, time))
        {
            ulong[] interesting = [0, 1, 2, 3, 4, 7, 8, device.Size - 8, device.Size - 4, device.Size - 1, device.Size,
                device.Size + 4, ulong.MaxValue, ulong.MaxValue - 3, ulong.MaxValue - 7, 1ul << 63];
            for (int i = 0; i < 50_000; i++)
            {
                ulong offset = random.Next(4) switch
                {
                    0 => interesting[random.Next(interesting.Length)],
                    1 => (ulong)random.NextInt64(),
                    _ => (ulong)random.NextInt64((long)device.Size) & ~3ul,
                };
                int size = random.Next(3) == 0 ? sizes[random.Next(sizes.Length)] : 1 << random.Next(4);
                ulong value = random.Next(3) == 0 ? ulong.MaxValue : (ulong)random.NextInt64();
                if (random.Next(2) == 0) device.Read(offset, size, out _);
                else device.Write(offset, size, value);
                if (i % 1000 == 0) time.Advance(TimeSpan.FromSeconds(random.Next(100)));
            }
        }
    }

    [Fact]
    public void Accesses_outside_the_window_are_refused()
    {
        FakeHartPins[] harts = FakeHartPins.Create(1);
        var sink = new FakeIrqSink();
        var time = new ManualTimeProvider(DateTimeOffset.UnixEpoch);
        foreach (IMmioDevice device in Devices(harts, sink, time))
        {
            Assert.False(device.Read(device.Size, 4, out _));
            Assert.False(device.Write(device.Size, 4, 0));
            Assert.False(device.Read(ulong.MaxValue - 3, 4, out _));
            Assert.False(device.Write(ulong.MaxValue - 3, 4, 0));
        }
    }
}
