using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Xunit.Abstractions;

namespace Trapeze.Integration.Tests;

/// <summary>
/// The VM verbs on real Linux guests (Debian's kernel, busybox initramfs, built-in SBI, 256 MiB): each VM runs
/// in a process of its own under a test-private <c>$TRAPEZE_HOME</c>.
/// </summary>
[Collection(LinuxBootCollection.Name)]
public sealed class VmLifecycleTests(ITestOutputHelper output)
{
    [Fact]
    public void Create_start_list_console_stop_kill_rm()
    {
        var sw = Stopwatch.StartNew();
        using var scratch = new ScratchDirectory();
        using var home = new VmTestHome(scratch);
        home.CreateLinux("one", "console=ttyS0 marker=one-cmdline", "--disk", "size=64M", "--smp", "2");
        Assert.True(File.Exists(Path.Combine(home.Bundle("one"), "vda.qcow2")));
        Assert.Equal("stopped", home.States()["one"]);

        home.Ok("start", "one");
        Assert.Equal("running", home.States()["one"]);
        var list = home.Ok("list").Stdout;
        Assert.Matches(@"one\s+running\s+2\s+256M\s+\d+s\s+\d+", list);
        home.WaitForShell("one");

        string shown = home.Console("one", "echo hello-$((6*7)); cat /proc/cmdline; ls /sys/block", @"hello-42[\s\S]*marker=one-cmdline[\s\S]*vda");
        Assert.Contains("hello-42", shown);
        // Detaching leaves the VM running.
        Assert.Equal("running", home.States()["one"]);

        var stop = home.Ok("stop", "one", "--timeout", "30");
        Assert.Contains("the guest powered off", stop.Stderr);
        Assert.Equal("stopped", home.States()["one"]);
        string log = File.ReadAllText(home.ConsoleLog("one"));
        Assert.Contains("sysrq: Power Off", log);
        Assert.False(File.Exists(Path.Combine(home.Bundle("one"), "console.sock")));

        // A guest that does not listen (SysRq turned off) is powered off from outside after the time-out.
        home.Ok("start", "one");
        home.WaitForShell("one", boot: 2);
        home.Console("one", "echo 0 > /proc/sys/kernel/sysrq; echo sysrq=$(cat /proc/sys/kernel/sysrq)", "sysrq=0");
        var forced = home.Ok("stop", "one", "--timeout", "2");
        Assert.Contains("forced after 2 s", forced.Stderr);
        Assert.Equal("stopped", home.States()["one"]);

        home.Ok("start", "one");
        home.WaitForShell("one", boot: 3);
        home.Ok("kill", "one");
        Assert.Equal("stopped", home.States()["one"]);
        home.Ok("rm", "one");
        Assert.Empty(home.States());
        Assert.False(Directory.Exists(home.Bundle("one")));
        output.WriteLine($"lifecycle: {sw.Elapsed.TotalSeconds:F1} s");
    }

    [Fact]
    public void Pause_resume_snapshot_and_restore_in_a_new_process()
    {
        var sw = Stopwatch.StartNew();
        using var scratch = new ScratchDirectory();
        using var home = new VmTestHome(scratch);
        home.CreateLinux("snap", "console=ttyS0 quiet", "--disk", "size=16M");
        home.Ok("start", "snap");
        home.WaitForShell("snap");
        home.Console("snap", "echo marker-$((2*21)) > /m1; cat /m1", "marker-42");
        // On the disk as well as in RAM: written and synced before the save.
        home.Console("snap", "echo disk-one > /dev/vda; sync; echo synced-$((3*3))", "synced-9");

        home.Ok("pause", "snap");
        Assert.Equal("paused", home.States()["snap"]);
        home.Ok("resume", "snap");
        Assert.Equal("running", home.States()["snap"]);

        home.Ok("snapshot", "save", "snap", "t1");
        Assert.True(File.Exists(Path.Combine(home.Bundle("snap"), "snapshots", "t1", "snapshot.json")));
        home.Console("snap", "echo later > /m2; cat /m2", "later");
        // The guest goes on writing its disk after the save; the restore must not see this.
        home.Console("snap", "echo disk-two > /dev/vda; sync; echo synced-$((4*4))", "synced-16");
        int firstPid = home.Pid("snap")!.Value;
        home.Ok("kill", "snap");

        var restored = home.Ok("snapshot", "restore", "snap", "t1");
        Assert.Contains("restored snap", restored.Stderr);
        Assert.Equal("running", home.States()["snap"]);
        Assert.NotEqual(firstPid, home.Pid("snap"));
        // The guest goes on from the snapshot: /m1 is there, /m2 (written after it) is not.
        home.Console("snap", "cat /m1; test -e /m2 || echo no-$((1+1))-m2", @"marker-42[\s\S]*no-2-m2");
        // Read from the disk itself (the page cache dropped): it is as it was at the save.
        home.Console("snap", "echo 3 > /proc/sys/vm/drop_caches; echo read-$(head -c 8 /dev/vda)-done", "read-disk-one-done");
        // One boot in the console log (it is appended to across VM processes): the restored guest did not boot.
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(File.ReadAllText(home.ConsoleLog("snap")), "Enter 'help' for a list"));
        // A second snapshot while it runs; both are listed; the first, removed, is gone and the second still restores.
        home.Ok("snapshot", "save", "snap", "t2");
        Assert.Matches(@"(?m)^t1\s+\S+ \S+\s+\S+\s+\S+\s+vda\s*$[\s\S]*^t2\s", home.Ok("snapshot", "list", "snap").Stdout);
        home.Ok("stop", "snap", "--timeout", "30");
        home.Ok("snapshot", "rm", "snap", "t1");
        Assert.DoesNotMatch(@"(?m)^t1\s", home.Ok("snapshot", "list", "snap").Stdout);
        BadInputTests.AssertRefused(home.Run("snapshot", "restore", "snap", "t1"), "snap has no snapshot 't1'");

        // An altered or missing disk copy is refused, and the VM's disk is left as it is.
        string gen = Directory.GetDirectories(Path.Combine(home.Bundle("snap"), "snapshots", "t2")).Single();
        string copy = Path.Combine(gen, "vda.disk");
        byte[] saved = File.ReadAllBytes(copy);
        byte[] disk = File.ReadAllBytes(Path.Combine(home.Bundle("snap"), "vda.qcow2"));
        using (var f = new FileStream(copy, FileMode.Open, FileAccess.Write)) { f.Position = 0x200; f.WriteByte(0x5a); }
        BadInputTests.AssertRefused(home.Run("snapshot", "restore", "snap", "t2"), "its copy of drive 'vda'");
        File.Delete(copy);
        BadInputTests.AssertRefused(home.Run("snapshot", "restore", "snap", "t2"), "is missing");
        Assert.Equal(disk, File.ReadAllBytes(Path.Combine(home.Bundle("snap"), "vda.qcow2")));
        Assert.Equal("stopped", home.States()["snap"]);
        File.WriteAllBytes(copy, saved);
        home.Ok("snapshot", "restore", "snap", "t2");
        home.Console("snap", "echo 3 > /proc/sys/vm/drop_caches; echo read-$(head -c 8 /dev/vda)-done", "read-disk-one-done");
        home.Ok("kill", "snap");
        BadInputTests.AssertRefused(home.Run("snapshot", "restore", "snap", "t3"), "snap has no snapshot 't3'");
        output.WriteLine($"snapshot: {sw.Elapsed.TotalSeconds:F1} s");
    }

    [Fact]
    public void Four_vms_run_at_once_and_a_killed_one_harms_no_other()
    {
        var sw = Stopwatch.StartNew();
        using var scratch = new ScratchDirectory();
        using var home = new VmTestHome(scratch);
        string[] names = ["vm0", "vm1", "vm2", "vm3"];
        foreach (string n in names) home.CreateLinux(n, $"console=ttyS0 who={n} quiet");
        foreach (string n in names) home.Ok("start", n);
        Assert.All(names, n => Assert.Equal("running", home.States()[n]));
        foreach (string n in names) home.WaitForShell(n);
        foreach (string n in names)
        {
            string shown = home.Console(n, "cat /proc/cmdline", $"who={n} quiet");
            foreach (string other in names.Where(o => o != n)) Assert.DoesNotContain($"who={other}", shown);
        }
        output.WriteLine($"four booted and answered: {sw.Elapsed.TotalSeconds:F1} s");

        // kill -9 of one VM process: the kernel drops its lock, list calls it crashed, the others run on.
        int pid = home.Pid("vm1") ?? throw new InvalidOperationException("vm1 has no pid file");
        using (var p = Process.GetProcessById(pid))
        {
            p.Kill();
            p.WaitForExit(10_000);
        }
        var states = home.States();
        Assert.Equal("crashed", states["vm1"]);
        Assert.All(names.Where(n => n != "vm1"), n => Assert.Equal("running", states[n]));
        home.Console("vm2", "echo still-$((40+2))", "still-42");

        // A crashed VM starts again.
        home.Ok("start", "vm1");
        home.WaitForShell("vm1", boot: 2);
        foreach (string n in names) home.Ok("stop", n, "--timeout", "30");
        Assert.All(names, n => Assert.Equal("stopped", home.States()[n]));
        output.WriteLine($"four VMs: {sw.Elapsed.TotalSeconds:F1} s");
    }

    [Fact]
    public void A_copied_bundle_and_an_imported_archive_start_elsewhere()
    {
        var sw = Stopwatch.StartNew();
        using var scratch = new ScratchDirectory();
        using var first = new VmTestHome(scratch, "first");
        using var second = new VmTestHome(scratch, "second");
        using var third = new VmTestHome(scratch, "third");
        first.CreateLinux("mover", "console=ttyS0 moved=yes", "--disk", "size=32M");

        // Copied with cp -r, as a user would; the first home is then removed so nothing can point back there.
        Directory.CreateDirectory(Path.Combine(second.Root, "vms"));
        var cp = ProcessRunner.RunTool("cp", ["-r", first.Bundle("mover"), Path.Combine(second.Root, "vms", "mover")]);
        Assert.Equal(0, cp.ExitCode);
        string archive = scratch.File("mover.tar.gz");
        first.Ok("export", "mover", archive);
        Directory.Delete(first.Root, true);

        second.Ok("start", "mover");
        second.WaitForShell("mover");
        second.Console("mover", "cat /proc/cmdline; ls /sys/block", @"moved=yes[\s\S]*vda");
        second.Ok("stop", "mover");

        third.Ok("import", archive, "arrived");
        Assert.Equal("stopped", third.States()["arrived"]);
        third.Ok("start", "arrived");
        third.WaitForShell("arrived");
        third.Console("arrived", "cat /proc/cmdline", "moved=yes");
        third.Ok("kill", "arrived");
        output.WriteLine($"copy + export/import: {sw.Elapsed.TotalSeconds:F1} s");
    }

    [Fact]
    public void The_daemon_creates_starts_lists_measures_and_stops_over_its_socket()
    {
        GuestImage.Ensure();
        var sw = Stopwatch.StartNew();
        using var scratch = new ScratchDirectory();
        using var home = new VmTestHome(scratch);
        home.StartDaemon();
        // Mode 0600 (or stricter): no access for group or others.
        if (OperatingSystem.IsLinux()) Assert.Equal((UnixFileMode)0, File.GetUnixFileMode(home.DaemonSocket) & (UnixFileMode)0x3f);

        using var http = Client(home.DaemonSocket);
        string body = JsonSerializer.Serialize(new
        {
            machine_config = new { vcpu_count = 1, mem_size_mib = 256 },
            boot_source = new { kernel_image_path = GuestImage.Kernel, initrd_path = GuestImage.Initrd, boot_args = "console=ttyS0 via=daemon", firmware = "builtin" },
        });
        Assert.Equal(200, Send(http, HttpMethod.Put, "vms/api1", body).Status);
        Assert.Equal(409, Send(http, HttpMethod.Put, "vms/api1", body).Status);
        var start = Send(http, HttpMethod.Put, "vms/api1/actions", """{"action_type": "InstanceStart"}""");
        Assert.True(start.Status == 200, start.Body);
        var vms = Send(http, HttpMethod.Get, "vms");
        using (var doc = JsonDocument.Parse(vms.Body))
            Assert.Equal("running", doc.RootElement.EnumerateArray().Single().GetProperty("state").GetString());
        // The CLI goes through the daemon while it runs.
        Assert.Matches(@"api1\s+running", home.Ok("list").Stdout);
        home.WaitForShell("api1");
        var metrics = Send(http, HttpMethod.Get, "vms/api1/metrics");
        Assert.Equal(200, metrics.Status);
        using (var doc = JsonDocument.Parse(metrics.Body))
        {
            var hart = doc.RootElement.GetProperty("harts")[0];
            Assert.True(hart.GetProperty("instructions_retired").GetInt64() > 1_000_000, metrics.Body);
            Assert.True(hart.GetProperty("exits").GetProperty("hypercalls").GetInt64() > 0, metrics.Body);
            Assert.True(doc.RootElement.GetProperty("jit").GetProperty("regions_compiled").GetInt64() > 0, metrics.Body);
            // The VM process runs with its managed heap bounded (vm.json's gc_heap_limit_mib, 256 by default).
            Assert.Equal(256L << 20, doc.RootElement.GetProperty("process").GetProperty("gc_heap_limit_bytes").GetInt64());
        }
        Assert.Equal(200, Send(http, HttpMethod.Patch, "vms/api1/vm", """{"state": "Paused"}""").Status);
        using (var doc = JsonDocument.Parse(Send(http, HttpMethod.Get, "vms/api1").Body))
            Assert.Equal("paused", doc.RootElement.GetProperty("state").GetString());
        Assert.Equal(200, Send(http, HttpMethod.Patch, "vms/api1/vm", """{"state": "Resumed"}""").Status);
        var snap = Send(http, HttpMethod.Put, "vms/api1/snapshot/create", """{"snapshot_tag": "s1"}""");
        Assert.True(snap.Status == 200, snap.Body);
        Assert.True(File.Exists(Path.Combine(home.Bundle("api1"), "snapshots", "s1", "snapshot.json")));
        var snaps = Send(http, HttpMethod.Get, "vms/api1/snapshots");
        using (var doc = JsonDocument.Parse(snaps.Body))
            Assert.Equal("s1", doc.RootElement.EnumerateArray().Single().GetProperty("snapshot_tag").GetString());
        var stop = Send(http, HttpMethod.Put, "vms/api1/actions", """{"action_type": "InstanceStop", "timeout_seconds": 30}""");
        Assert.True(stop.Status == 200, stop.Body);
        Assert.Contains("powered off", stop.Body);
        Assert.Equal(409, Send(http, HttpMethod.Get, "vms/api1/metrics").Status);
        Assert.Equal(200, Send(http, HttpMethod.Delete, "vms/api1/snapshots/s1").Status);
        Assert.Equal(404, Send(http, HttpMethod.Delete, "vms/api1/snapshots/s1").Status);
        Assert.Equal("[]", Send(http, HttpMethod.Get, "vms/api1/snapshots").Body);
        Assert.Equal(404, Send(http, HttpMethod.Get, "vms/nope").Status);
        Assert.Equal(200, Send(http, HttpMethod.Delete, "vms/api1").Status);
        output.WriteLine($"daemon: {sw.Elapsed.TotalSeconds:F1} s");
    }

    private static HttpClient Client(string socket) => new(new SocketsHttpHandler
    {
        ConnectCallback = async (_, cancel) =>
        {
            var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            await s.ConnectAsync(new UnixDomainSocketEndPoint(socket), cancel);
            return new NetworkStream(s, ownsSocket: true);
        },
    }) { BaseAddress = new Uri("http://localhost/"), Timeout = TimeSpan.FromSeconds(120) };

    private static (int Status, string Body) Send(HttpClient http, HttpMethod method, string path, string? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body != null) request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        using var r = http.Send(request);
        return ((int)r.StatusCode, r.Content.ReadAsStringAsync().Result);
    }
}
