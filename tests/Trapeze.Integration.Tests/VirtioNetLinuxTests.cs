using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Xunit.Abstractions;

namespace Trapeze.Integration.Tests;

/// <summary>
/// virtio-net under Linux: two machines on one Ethernet segment, joined by the socket backend (one
/// listens on a loopback port, the other connects), both running at once. The client pings the server
/// and fetches a file of random bytes from it over HTTP; both print the file's SHA-256.
/// </summary>
public sealed class VirtioNetLinuxTests(VirtioGuestImage guest, ITestOutputHelper output) : IClassFixture<VirtioGuestImage>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(300);

    [HostFact(Needs.OpenSbi)]
    public void Two_machines_ping_and_copy_a_file_over_the_socket_backend()
    {
        Assert.True(guest.Error == null, guest.Error);
        int port = FreeLoopbackPort();
        var clock = Stopwatch.StartNew();
        using var server = TrapezeProcess.Start(output, "run", "--kernel", guest.Kernel, "--initrd", guest.Initrd,
            "--append", "console=ttyS0 net=off run=/net-test.sh nt=server nt_ip=10.0.2.1",
            "--net", $"socket,listen=127.0.0.1:{port},mac=52:54:00:00:00:01");
        using var client = TrapezeProcess.Start(output, "run", "--kernel", guest.Kernel, "--initrd", guest.Initrd,
            "--append", "console=ttyS0 net=off run=/net-test.sh nt=client nt_ip=10.0.2.2",
            "--net", $"socket,connect=127.0.0.1:{port},mac=52:54:00:00:00:02");

        server.WaitFor("NT serving", Timeout);
        Assert.StartsWith("NT up server mac=52:54:00:00:00:01 ", server.Line("NT up"));
        client.WaitFor("NT done", Timeout);
        output.WriteLine($"both machines finished in {clock.Elapsed.TotalSeconds:F0} s");
        Assert.StartsWith("NT up client mac=52:54:00:00:00:02 ", client.Line("NT up"));
        Assert.Equal("NT ping ok", client.Line("NT ping "));
        Assert.Contains("3 packets transmitted, 3 packets received", client.Line("NT ping: 3 packets"));
        string sha = server.Line("NT sha");
        Assert.Matches("^NT sha [0-9a-f]{64}$", sha);
        Assert.NotEqual("NT sha e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", sha); // not empty
        Assert.Equal(sha, client.Line("NT sha"));
    }

    [HostFact(Needs.OpenSbi | Needs.Tap)]
    public void The_host_fetches_a_file_from_the_guest_through_a_tap_interface()
    {
        Assert.True(guest.Error == null, guest.Error);
        string ifname = $"trz{Environment.ProcessId % 100000}";
        using var vm = TrapezeProcess.Start(output, "run", "--kernel", guest.Kernel, "--initrd", guest.Initrd,
            "--append", "console=ttyS0 net=off run=/net-test.sh nt=server nt_ip=10.213.87.1",
            "--net", $"tap,ifname={ifname}");
        // The interface exists once the machine is built, before the guest runs; give it an address.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        while (!Directory.Exists($"/sys/class/net/{ifname}"))
        {
            Assert.True(DateTime.UtcNow < deadline, $"{ifname} did not appear; stderr: {vm.Stderr}");
            Thread.Sleep(200);
        }
        Host.Run("ip", "addr", "add", "10.213.87.100/24", "dev", ifname).AssertExit(0);
        Host.Run("ip", "link", "set", ifname, "up").AssertExit(0);
        vm.WaitFor("NT serving", Timeout);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        byte[] file = http.GetByteArrayAsync("http://10.213.87.1:8080/file").GetAwaiter().GetResult();
        Assert.Equal(524288, file.Length);
        Assert.Equal(vm.Line("NT sha"), "NT sha " + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(file)));
    }

    private static int FreeLoopbackPort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
