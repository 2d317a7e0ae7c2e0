using System.Net.Sockets;
using System.Text;

namespace Trapeze.Vmm.Tests;

/// <summary>The serial console of a VM process: logged with rotation, served to socket clients both ways.</summary>
public sealed class ConsoleHubTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("trapeze-console-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private static void Write(ConsoleHub hub, string text)
    {
        foreach (byte b in Encoding.ASCII.GetBytes(text)) hub.Write(b);
    }

    [Fact]
    public void The_log_rotates_past_its_bound_keeping_one_old_file()
    {
        string log = Path.Combine(_dir, "console.log");
        using (var hub = new ConsoleHub(log, maxLogBytes: 1000))
        {
            for (int i = 0; i < 30; i++)
            {
                Write(hub, $"line {i:D3} {new string('x', 90)}\n");
                Thread.Sleep(5);
            }
        }
        Assert.True(new FileInfo(log).Length <= 1000);
        Assert.True(new FileInfo(log + ".1").Length <= 1000);
        string all = File.ReadAllText(log + ".1") + File.ReadAllText(log);
        Assert.EndsWith($"line 029 {new string('x', 90)}\n", all);
        Assert.DoesNotContain("line 000", all);
    }

    [Fact]
    public void Clients_get_the_output_and_give_the_input()
    {
        string sock = Path.Combine(_dir, "console.sock");
        var input = new List<byte>();
        using var hub = new ConsoleHub(Path.Combine(_dir, "console.log"));
        hub.Listen(sock, data => { lock (input) input.AddRange(data); });
        using var a = Connect(sock);
        using var b = Connect(sock);
        Thread.Sleep(100); // accepted
        Write(hub, "hello\n");
        Assert.Equal("hello\n", Receive(a, 6));
        Assert.Equal("hello\n", Receive(b, 6));
        a.Send("ls\n"u8.ToArray());
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (DateTime.UtcNow < deadline)
        {
            lock (input) if (input.Count == 3) break;
            Thread.Sleep(10);
        }
        lock (input) Assert.Equal("ls\n"u8.ToArray(), input.ToArray());
        // A client that leaves harms nobody.
        a.Dispose();
        Write(hub, "more\n");
        Assert.Equal("more\n", Receive(b, 5));
    }

    private static Socket Connect(string path)
    {
        var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 5000 };
        s.Connect(new UnixDomainSocketEndPoint(path));
        return s;
    }

    private static string Receive(Socket s, int count)
    {
        var buf = new byte[count];
        int got = 0;
        while (got < count)
        {
            int n = s.Receive(buf, got, count - got, SocketFlags.None);
            if (n == 0) break;
            got += n;
        }
        return Encoding.ASCII.GetString(buf, 0, got);
    }
}
