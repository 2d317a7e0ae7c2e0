using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Trapeze.Integration.Tests;

/// <summary>
/// <c>trapeze receive</c> and <c>trapeze migrate</c> between two <c>$TRAPEZE_HOME</c>s standing for two hosts, over
/// loopback TCP: a running Linux guest (default guest, built-in SBI, 256 MiB) with a workload that checks its own
/// memory moves from the first to the second, its checks go on passing there, and it is stopped there.
/// </summary>
[Collection(LinuxBootCollection.Name)]
public sealed class VmMigrationTests(ITestOutputHelper output)
{
    /// <summary>Started in the background from the guest's shell: writes a file of random bytes once and a file
    /// of numbers each pass, and re-reads both (tmpfs: guest RAM) against checksums taken when they were written.</summary>
    private const string Workload =
        "dd if=/dev/urandom of=/tmp/big bs=1M count=16 2>/dev/null; big=$(md5sum < /tmp/big); " +
        "(i=0; while :; do i=$((i+1)); seq $i $((i+5000)) > /tmp/f; a=$(md5sum < /tmp/f); b=$(seq $i $((i+5000)) | md5sum); " +
        "c=$(md5sum < /tmp/big); if [ \"$a\" = \"$b\" ] && [ \"$c\" = \"$big\" ]; then echo \"MIG ok $i\"; else echo \"MIG FAIL $i\"; fi; done) &";

    /// <summary>On the writable disk (vdb, copied by the migration): 8 MiB of random bytes written once at 56 MiB
    /// before the migration, then each pass 1 MiB of new random bytes at a moving place below 48 MiB; after a sync
    /// and with the page cache dropped (so that the reads reach the disk), both are read back against their checksums.</summary>
    private const string DiskWorkload =
        "dd if=/dev/urandom of=/tmp/pre bs=64k count=128 2>/dev/null; dd if=/tmp/pre of=/dev/vdb bs=1M seek=56 2>/dev/null; sync; " +
        "pre=$(md5sum < /tmp/pre); " +
        "(i=0; while :; do i=$((i+1)); o=$((i%48)); dd if=/dev/urandom of=/tmp/d bs=64k count=16 2>/dev/null; " +
        "dd if=/tmp/d of=/dev/vdb bs=1M seek=$o 2>/dev/null; sync; echo 3 > /proc/sys/vm/drop_caches; d=$(md5sum < /tmp/d); " +
        "r=$(dd if=/dev/vdb bs=1M skip=$o count=1 2>/dev/null | md5sum); p=$(dd if=/dev/vdb bs=1M skip=56 count=8 2>/dev/null | md5sum); " +
        "if [ \"$d\" = \"$r\" ] && [ \"$p\" = \"$pre\" ]; then echo \"DISK ok $i\"; else echo \"DISK FAIL $i\"; fi; done) &";

    private static readonly Regex Ok = new(@"MIG ok (\d+)");

    [Fact]
    public void A_running_guest_moves_to_another_home_and_its_workload_keeps_passing()
    {
        var sw = Stopwatch.StartNew();
        using var scratch = new ScratchDirectory();
        using var a = new VmTestHome(scratch, "a");
        using var b = new VmTestHome(scratch, "b");
        // A read-only disk outside the bundle: the storage both "hosts" share.
        string shared = scratch.File("shared.raw");
        File.WriteAllBytes(shared, new byte[1 << 20]);
        // And a writable disk in the bundle (vdb.qcow2), copied by the migration while the guest writes it.
        a.CreateLinux("mover", "console=ttyS0 quiet", "--disk", $"{shared},format=raw,readonly=on", "--disk", "size=64M");
        a.Ok("start", "mover");
        a.WaitForShell("mover");
        a.Console("mover", Workload, @"MIG ok \d+");
        a.Console("mover", DiskWorkload, @"DISK ok \d+");

        // Nobody listens yet: refused in one line, and the guest runs on here.
        int port = FreePort();
        BadInputTests.AssertRefused(a.Run("migrate", "mover", "--to", $"127.0.0.1:{port}"), "cannot connect to");
        Assert.Equal("running", a.States()["mover"]);
        int before = LastOk(File.ReadAllText(a.ConsoleLog("mover")));
        a.WaitForConsole("mover", $@"MIG ok {before + 1}\b");

        var receive = b.Ok("receive", "mover", "--listen", $"127.0.0.1:{port}");
        Assert.Contains($"waits for a migration on 127.0.0.1:{port}", receive.Stderr);
        var migrate = a.Ok("migrate", "mover", "--to", $"127.0.0.1:{port}");
        output.WriteLine(migrate.Stderr.Trim());
        Assert.Matches(@"migrated mover to 127\.0\.0\.1:\d+; migration: \d+ rounds .*downtime \d+\.\d ms", migrate.Stderr);

        Assert.Equal("migrated", a.States()["mover"]);
        Assert.Equal("running", b.States()["mover"]);
        Assert.Matches(@"\d+ disk blocks", migrate.Stderr);
        string sourceDisk = Path.Combine(a.Bundle("mover"), "vdb.qcow2");
        byte[] sourceAtSwitch = SHA256.HashData(File.ReadAllBytes(sourceDisk));
        // The destination's console log starts with the migration: its workload goes on from where it was.
        string log = b.WaitForConsole("mover", @"(?s)MIG ok \d+.*MIG ok \d+.*MIG ok \d+", TimeSpan.FromSeconds(120));
        Assert.DoesNotMatch(@"MIG FAIL \d", log);
        Assert.DoesNotMatch(@"MIG FAIL \d", File.ReadAllText(a.ConsoleLog("mover")));
        // The disk's checks go on passing on the copy, reading what was written before and during the migration.
        log = b.WaitForConsole("mover", @"(?s)DISK ok \d+.*DISK ok \d+.*DISK ok \d+", TimeSpan.FromSeconds(120));
        Assert.DoesNotMatch(@"DISK FAIL \d", log);
        Assert.DoesNotMatch(@"DISK FAIL \d", File.ReadAllText(a.ConsoleLog("mover")));
        // The source's image is left as the guest left it there: the destination writes its own copy.
        Assert.Equal(sourceAtSwitch, SHA256.HashData(File.ReadAllBytes(sourceDisk)));
        int first = int.Parse(Ok.Match(log).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(first > before, $"the destination's first pass {first} does not follow the source's {before}");
        b.Console("mover", "echo there-$((6*7)); ls /sys/block", @"there-42[\s\S]*vda");

        // The source's copy is not started by mistake; the destination's is a VM like any other there.
        BadInputTests.AssertRefused(a.Run("start", "mover"), "was migrated to");
        b.Ok("stop", "mover", "--timeout", "30");
        Assert.Equal("stopped", b.States()["mover"]);
        var check = Host.Run("qemu-img", "check", "-f", "qcow2", Path.Combine(b.Bundle("mover"), "vdb.qcow2"));
        output.WriteLine(check.Stdout.Trim());
        check.AssertExit(0);
        output.WriteLine($"migrate between homes: {sw.Elapsed.TotalSeconds:F1} s");
    }

    [Fact]
    public void The_daemons_receive_and_migrate()
    {
        var sw = Stopwatch.StartNew();
        using var scratch = new ScratchDirectory();
        using var a = new VmTestHome(scratch, "a");
        using var b = new VmTestHome(scratch, "b");
        a.StartDaemon();
        b.StartDaemon();
        a.CreateLinux("viad", "console=ttyS0 quiet");
        a.Ok("start", "viad");
        a.WaitForShell("viad");
        a.Console("viad", "echo marker-$((2*21)) > /tmp/m; cat /tmp/m", "marker-42");
        int port = FreePort();
        b.Ok("receive", "viad", "--listen", $"127.0.0.1:{port}");
        // A paused guest moves paused, and goes on when resumed there.
        a.Ok("pause", "viad");
        var migrate = a.Ok("migrate", "viad", "--to", $"127.0.0.1:{port}");
        output.WriteLine(migrate.Stderr.Trim());
        Assert.Contains("downtime", migrate.Stderr);
        Assert.Equal("migrated", a.States()["viad"]);
        Assert.Equal("paused", b.States()["viad"]);
        b.Ok("resume", "viad");
        Assert.Equal("running", b.States()["viad"]);
        b.Console("viad", "cat /tmp/m", "marker-42");
        b.Ok("stop", "viad", "--timeout", "30");
        output.WriteLine($"migrate through the daemons: {sw.Elapsed.TotalSeconds:F1} s");
    }

    [Fact]
    public void Bad_requests_are_refused_in_one_line()
    {
        using var scratch = new ScratchDirectory();
        using var home = new VmTestHome(scratch);
        string kernel = scratch.File("Image");
        File.WriteAllBytes(kernel, [1, 2, 3, 4]);
        home.Ok("create", "idle", "--kernel", kernel, "--bios", "builtin", "--mem", "64M");
        BadInputTests.AssertRefused(home.Run("migrate", "nope", "--to", "127.0.0.1:7000"), "no VM named 'nope'");
        BadInputTests.AssertRefused(home.Run("migrate", "idle", "--to", "127.0.0.1:7000"), "idle is not running");
        BadInputTests.AssertRefused(home.Run("migrate", "idle", "--to", "nowhere"), "'nowhere' is not HOST:PORT");
        BadInputTests.AssertRefused(home.Run("migrate", "idle", "--to", "127.0.0.1:99999"), "is not HOST:PORT");
        BadInputTests.AssertRefused(home.Run("migrate", "idle"), "--to HOST:PORT is required");
        BadInputTests.AssertRefused(home.Run("receive", "new", "--listen", "7000"), "is not HOST:PORT");
        BadInputTests.AssertRefused(home.Run("receive", "idle", "--listen", "127.0.0.1:7000"), "a VM named 'idle' already exists");

        // A port that is taken: the receiving VM process cannot listen, and nothing of it is left.
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        int port = ((IPEndPoint)taken.LocalEndpoint).Port;
        BadInputTests.AssertRefused(home.Run("receive", "new", "--listen", $"127.0.0.1:{port}"), "cannot listen on");
        Assert.False(Directory.Exists(home.Bundle("new")));
        BadInputTests.AssertRefused(home.Run("receive", "new", "--listen", "no-such-host.invalid:7000"), "cannot listen on");
        Assert.False(Directory.Exists(home.Bundle("new")));

        // A VM process waiting for a migration is listed, and removed only with --force.
        int other = FreePort();
        home.Ok("receive", "waiting", "--listen", $"127.0.0.1:{other}");
        Assert.Equal("incoming", home.States()["waiting"]);
        BadInputTests.AssertRefused(home.Run("rm", "waiting"), "waiting waits for a migration");
        home.Ok("rm", "waiting", "--force");
        Assert.False(Directory.Exists(home.Bundle("waiting")));
        Assert.False(home.States().ContainsKey("waiting"));

        // No source within the time-out: the waiting VM process ends and removes what it made.
        int free = FreePort();
        home.Ok("receive", "late", "--listen", $"127.0.0.1:{free}", "--timeout", "1");
        var wait = Stopwatch.StartNew();
        while (Directory.Exists(home.Bundle("late")) && wait.Elapsed < TimeSpan.FromSeconds(30)) Thread.Sleep(100);
        Assert.False(Directory.Exists(home.Bundle("late")));
    }

    private static int LastOk(string log) =>
        Ok.Matches(log).Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).DefaultIfEmpty(0).Max();

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }
}
