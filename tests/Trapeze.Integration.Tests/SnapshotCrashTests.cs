using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Trapeze.Machine.Snapshot;
using Xunit.Abstractions;

namespace Trapeze.Integration.Tests;

/// <summary>
/// kill -9 of the VM process during <c>snapshot save</c>, again and again: the snapshot of that tag must always
/// be loadable afterwards (the previous one, or the new one when the kill came after its commit), and nothing a
/// killed save left behind may pile up.
/// </summary>
[Collection(LinuxBootCollection.Name)]
public sealed class SnapshotCrashTests(ITestOutputHelper output)
{
    private const int Iterations = 100;

    /// <summary>
    /// The real VM process (the default Linux guest, 128 MiB, an 8 MiB qcow2 disk) is killed with SIGKILL at a
    /// random moment after the save request reaches its API socket; the delays cover 0 to 1.5 times a measured
    /// save, so kills land before the save starts, while RAM or the disk is written, around the manifest's
    /// rename, and after it. After every kill the VM is brought back with <c>trapeze snapshot restore</c>: that
    /// is the check that the snapshot loads (the state's checksum, each disk copy's fingerprint, then a VM process
    /// that restores the machine and runs it), and it gives the next iteration a running VM to kill. The state
    /// file is also checked in this process, and every tenth time the restored guest must answer on its console.
    /// A restart per iteration is what makes this slow: two .NET process starts (the CLI, the VM process) and a
    /// restore, 3 s an iteration and 5 minutes in all on the 2-core machine at a load average of 4–10. That is the
    /// price of killing the real process and restoring through the user's own command every time, rather than a
    /// stand-in; a quiet machine takes about half.
    /// </summary>
    [Fact]
    public void Kill_9_during_snapshot_save_always_leaves_a_loadable_snapshot()
    {
        var sw = Stopwatch.StartNew();
        using var scratch = new ScratchDirectory();
        using var home = new VmTestHome(scratch);
        GuestImage.Ensure();
        home.Ok("create", "crash", "--kernel", GuestImage.Kernel, "--initrd", GuestImage.Initrd, "--append", "console=ttyS0 quiet",
            "--bios", "builtin", "--mem", "128M", "--disk", "size=8M");
        home.Ok("start", "crash");
        home.WaitForShell("crash");
        home.Console("crash", "echo crash-disk > /dev/vda; sync; echo synced-$((5*5))", "synced-25");
        string tagDir = Path.Combine(home.Bundle("crash"), "snapshots", "t");

        // The first good snapshot, and how long a save takes (the kills are spread over that): timed on a second
        // save, as the first one also pays for compiling the save path in the VM process.
        SaveThroughApi(home, "t");
        var save = Stopwatch.StartNew();
        SaveThroughApi(home, "t");
        double saveMs = save.Elapsed.TotalMilliseconds;
        output.WriteLine($"booted and saved once: {sw.Elapsed.TotalSeconds:F1} s; a save takes {saveMs:F0} ms");

        var random = new Random(20261126);
        int committed = 0, kept = 0;
        for (int i = 0; i < Iterations; i++)
        {
            string before = Generation(tagDir);
            int pid = home.Pid("crash") ?? throw new InvalidOperationException("no vm.pid");
            var delay = TimeSpan.FromMilliseconds(random.NextDouble() * saveMs * 1.5);
            var request = new Thread(() =>
            {
                try { SaveThroughApi(home, "t"); }
                catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException or SocketException) { }
            }) { IsBackground = true };
            request.Start();
            Thread.Sleep(delay);
            using (var p = Process.GetProcessById(pid))
            {
                p.Kill();
                Assert.True(p.WaitForExit(10_000), "the VM process did not die");
            }
            Assert.True(request.Join(TimeSpan.FromSeconds(30)), "the save request did not end with its VM process");

            string after = Generation(tagDir);
            if (after == before) kept++;
            else committed++;
            MachineSnapshot.Verify(Path.Combine(tagDir, after, "state.snap"));
            home.Ok("snapshot", "restore", "crash", "t");
            if (i % 10 == 9)
                home.Console("crash", $"echo 3 > /proc/sys/vm/drop_caches; echo alive-$(({i}+1000))-$(head -c 10 /dev/vda)", $"alive-{i + 1000}-crash-disk");
        }
        output.WriteLine($"{Iterations} kills: {kept} left the previous snapshot, {committed} the new one; {sw.Elapsed.TotalSeconds:F1} s");
        // Kills before and after the commit both happened: the test saw both sides of the rename.
        Assert.True(kept > 0 && committed > 0, $"kept {kept}, committed {committed}");

        // A save cleans up after the killed ones: the manifest and one generation, and no temporary file anywhere.
        SaveThroughApi(home, "t");
        Assert.Equal(new[] { Generation(tagDir), "snapshot.json" },
            Directory.EnumerateFileSystemEntries(tagDir).Select(e => Path.GetFileName(e) ?? "").Order(StringComparer.Ordinal));
        Assert.Empty(Directory.EnumerateFiles(home.Bundle("crash"), "*.tmp", SearchOption.AllDirectories));
        home.Ok("kill", "crash");
        home.Ok("snapshot", "restore", "crash", "t");
        home.Console("crash", "echo 3 > /proc/sys/vm/drop_caches; echo last-$(head -c 10 /dev/vda)", "last-crash-disk");
        home.Ok("kill", "crash");
        output.WriteLine($"total: {sw.Elapsed.TotalSeconds:F1} s");
    }

    /// <summary>The generation snapshot.json names.</summary>
    private static string Generation(string tagDir)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(tagDir, "snapshot.json")));
        return doc.RootElement.GetProperty("generation").GetString()!;
    }

    /// <summary>PUT /snapshot/create on the VM process's own socket: the request reaches the process at once
    /// (the CLI would add its start-up time in front of it).</summary>
    private static void SaveThroughApi(VmTestHome home, string tag)
    {
        string socket = Path.Combine(home.Bundle("crash"), "api.sock");
        using var http = new HttpClient(new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancel) =>
            {
                var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await s.ConnectAsync(new UnixDomainSocketEndPoint(socket), cancel);
                return new NetworkStream(s, ownsSocket: true);
            },
        }) { BaseAddress = new Uri("http://localhost/"), Timeout = TimeSpan.FromSeconds(60) };
        using var body = new StringContent(JsonSerializer.Serialize(new { snapshot_tag = tag }), Encoding.UTF8, "application/json");
        using HttpResponseMessage r = http.PutAsync("snapshot/create", body).GetAwaiter().GetResult();
        if (!r.IsSuccessStatusCode) throw new HttpRequestException($"snapshot/create: {(int)r.StatusCode} {r.Content.ReadAsStringAsync().Result}");
    }
}
