using Trapeze.Devices.Power;

namespace Trapeze.Devices.Tests;

public sealed class SifiveTestTests
{
    [Theory]
    [InlineData(0x5555u, PowerRequestKind.PowerOff, 0)]
    [InlineData(0x7777u, PowerRequestKind.Reset, 0)]
    [InlineData(0x3333u, PowerRequestKind.Fail, 0)]
    [InlineData(0x0003_3333u, PowerRequestKind.Fail, 3)]
    [InlineData(0xffff_3333u, PowerRequestKind.Fail, 0xffff)]
    public void Finisher_values_report_to_the_board(uint value, PowerRequestKind kind, int code)
    {
        var requests = new List<PowerRequest>();
        var test = new SifiveTest(requests.Add);
        Assert.True(test.Write(0, 4, value));
        Assert.Equal([new PowerRequest(kind, code)], requests);
        Assert.Equal(new PowerRequest(kind, code), test.LastRequest);
    }

    [Fact]
    public void A_16_bit_write_works_and_other_values_or_offsets_are_ignored()
    {
        var requests = new List<PowerRequest>();
        var test = new SifiveTest(requests.Add);
        Assert.True(test.Write(0, 4, 0x1234));
        Assert.True(test.Write(4, 4, 0x5555));
        Assert.Empty(requests);
        Assert.Null(test.LastRequest);
        Assert.True(test.Write(0, 2, 0x5555));
        Assert.Equal([new PowerRequest(PowerRequestKind.PowerOff, 0)], requests);
    }

    [Fact]
    public void Reads_return_zero_and_access_sizes_are_two_or_four()
    {
        var test = new SifiveTest(null);
        Assert.True(test.Read(0, 4, out ulong value));
        Assert.Equal(0ul, value);
        Assert.True(test.Read(2, 2, out _));
        Assert.False(test.Read(0, 1, out _));
        Assert.False(test.Read(0, 8, out _));
        Assert.False(test.Write(0, 8, 0x5555));
        Assert.False(test.Write(1, 2, 0x5555));
        Assert.False(test.Write(0x1000, 4, 0x5555));
    }
}
