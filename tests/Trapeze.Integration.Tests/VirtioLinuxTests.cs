using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using Trapeze.Devices.Fdt;
using Trapeze.Devices.Virtio.Block;
using Trapeze.Machine;
using Xunit.Abstractions;

namespace Trapeze.Integration.Tests;

/// <summary>
/// virtio under a real Linux guest (Debian's kernel, the default busybox guest plus a test script), run
/// through the <c>trapeze</c> command as a child process. Boots are slow on the interpreter, so one
/// test does many checks in two boots: ext4 on virtio-blk written in one boot and read back in the next
/// and on the host, a second read-only disk, virtio-rng, the hvc0 console with keyboard input, discard
/// (fstrim), and a write acknowledged after <c>sync</c> surviving a kill -9 of the host process.
/// </summary>
public sealed class VirtioLinuxTests(VirtioGuestImage guest, ITestOutputHelper output) : IClassFixture<VirtioGuestImage>
{
    private static readonly TimeSpan BootTimeout = TimeSpan.FromSeconds(300);

    [HostFact(Needs.OpenSbi | Needs.E2fsprogs)]
    public void Ext4_rng_hvc0_and_durable_writes_across_two_boots()
    {
        Assert.True(guest.Error == null, guest.Error);

        string dir = guest.WorkDir;
        string seed = Path.Combine(dir, "seed");
        Directory.CreateDirectory(seed);
        File.WriteAllText(Path.Combine(seed, "seed.txt"), "seeded by the host\n");
        string disk = Path.Combine(dir, "disk.img");
        using (var f = File.Create(disk)) f.SetLength(64 << 20);
        Host.Run("mkfs.ext4", "-F", "-q", "-L", "trapeze", "-d", seed, disk).AssertExit(0);
        string roDisk = Path.Combine(dir, "ro.img");
        byte[] roData = RandomNumberGenerator.GetBytes(1 << 20);
        File.WriteAllBytes(roDisk, roData);
        string roSha = Convert.ToHexStringLower(SHA256.HashData(roData));
        string seq = string.Concat(Enumerable.Range(1, 20000).Select(i => i + "\n"));
        string seqSha = Convert.ToHexStringLower(SHA256.HashData(Encoding.ASCII.GetBytes(seq)));

        // Boot 1: console=hvc0 (the default virtio-console and virtio-rng come with it).
        using (var vm = TrapezeProcess.Start(output, "run", "--kernel", guest.Kernel, "--initrd", guest.Initrd,
                   "--append", "console=hvc0 run=/virtio-test.sh vt=boot1",
                   "--disk", $"{disk},serial=trapeze-vda", "--disk", $"{roDisk},readonly=on,format=raw"))
        {
            vm.WaitFor("VT phase boot1", BootTimeout);
            Assert.Equal("VT phase boot1 stdout=/dev/hvc0", vm.Line("VT phase"));
            vm.WaitFor("VT waiting-input", TimeSpan.FromSeconds(120));
            Assert.Equal("VT rng_current virtio_rng.0", vm.Line("VT rng_current"));
            string hwrng = vm.Line("VT hwrng")["VT hwrng ".Length..];
            Assert.Equal(64, hwrng.Length);
            Assert.NotEqual(new string('0', 64), hwrng);
            Assert.Equal("VT vda serial=trapeze-vda ro=0", vm.Line("VT vda"));
            // Linux took the ring features, so its traffic went through indirect tables and event indices.
            string[] devices = vm.Line("VT features")["VT features ".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(["0x0002", "0x0002", "0x0003", "0x0004"], devices.Select(d => d.Split(':')[0]).Order());
            foreach (string d in devices)
            {
                string bits = d.Split(':')[1];
                Assert.True(bits[28] == '1' && bits[29] == '1' && bits[32] == '1', $"features of {d}");
            }
            Assert.Equal("VT seed seeded by the host", vm.Line("VT seed"));
            Assert.Equal($"VT vdb ro=1 sectors=2048 sha={roSha}", vm.Line("VT vdb ro"));
            Assert.Equal("VT vdb write refused", vm.Line("VT vdb write"));
            // Keyboard input reaches the shell on hvc0.
            vm.Type("typed into hvc0\n");
            vm.WaitFor("VT done", TimeSpan.FromSeconds(120));
            Assert.Equal("VT input [typed into hvc0]", vm.Line("VT input"));
            Assert.Equal($"VT boot1 sha={seqSha}", vm.Line("VT boot1"));
            Assert.Matches(@"^VT fstrim /mnt: [1-9][0-9]* bytes trimmed", vm.Line("VT fstrim"));
            Assert.Equal(0, vm.WaitForExit(TimeSpan.FromSeconds(60)));
        }
        Host.Run("e2fsck", "-f", "-n", disk).AssertExit(0);
        Assert.Equal(seq, Host.Run("debugfs", "-R", "cat /boot1.txt", disk).Stdout);
        Assert.Equal(roData, File.ReadAllBytes(roDisk));

        // Boot 2: console=ttyS0; the file from boot 1 reads back; a write is acknowledged after sync and
        // the host process is killed at once.
        using (var vm = TrapezeProcess.Start(output, "run", "--kernel", guest.Kernel, "--initrd", guest.Initrd,
                   "--append", "console=ttyS0 run=/virtio-test.sh vt=boot2", "--disk", disk))
        {
            vm.WaitFor("VT sync-returned", BootTimeout);
            vm.Kill();
            Assert.Equal("VT rng_current virtio_rng.0", vm.Line("VT rng_current"));
            Assert.Equal($"VT boot1 sha={seqSha}", vm.Line("VT boot1"));
        }
        // The journal holds the last metadata: replay it as a mount would, then look.
        var fsck = Host.Run("e2fsck", "-f", "-y", disk);
        Assert.True(fsck.ExitCode is 0 or 1, $"e2fsck -fy: exit {fsck.ExitCode}\n{fsck.Stdout}{fsck.Stderr}");
        Assert.Equal("written in boot 2 before sync\n", Host.Run("debugfs", "-R", "cat /boot2.txt", disk).Stdout);
        Assert.Equal(seq, Host.Run("debugfs", "-R", "cat /boot1.txt", disk).Stdout);
        Host.Run("e2fsck", "-f", "-n", disk).AssertExit(0);
    }

    [HostFact(Needs.OpenSbi | Needs.Qemu)]
    public void Virtio_slots_in_the_device_tree_match_qemu_virt()
    {
        string path = Path.Combine(guest.WorkDir, "qemu-virt.dtb");
        Host.Run("qemu-system-riscv64", "-M", $"virt,dumpdtb={path}", "-m", "512M", "-nographic", "-nodefaults").AssertExit(0);
        FdtNode qemuSoc = FdtReader.Parse(File.ReadAllBytes(path)).Root.Find("/soc")!;

        string image = Path.Combine(guest.WorkDir, "slot-test.img");
        using (var f = File.Create(image)) f.SetLength(1 << 20);
        using var machine = new VirtMachine(new MachineConfig
        {
            Disks = [new DiskConfig(image)],
            VirtioDevices = [VirtioDeviceKind.Rng],
        }, _ => { });
        machine.Load();
        FdtNode ours = FdtReader.Parse(machine.DeviceTree).Root.Find("/soc")!;

        string[] Slots(FdtNode soc) => soc.Children.Select(c => c.Name).Where(n => n.StartsWith("virtio_mmio@", StringComparison.Ordinal)).ToArray();
        Assert.Equal(Slots(qemuSoc), Slots(ours)); // the same eight nodes, in the same order
        Assert.Equal(8, Slots(ours).Length);
        foreach (string name in Slots(qemuSoc))
        {
            FdtNode q = qemuSoc.Child(name)!, o = ours.Child(name)!;
            Assert.Equal(q.Properties.Select(p => p.Name), o.Properties.Select(p => p.Name));
            foreach (FdtProperty p in q.Properties) Assert.True(p.Value.AsSpan().SequenceEqual(o.Property(p.Name)!.Value), $"{name}: {p.Name} differs");
        }
        // As QEMU, the first device sits in the highest slot, which the tree lists first.
        Assert.Equal("virtio_mmio@10008000", Slots(ours)[0]);
        Assert.IsType<VirtioBlock>(machine.Virtio[7].Device);
        Assert.Equal("virtio-rng", machine.Virtio[6].Device!.Name);
        Assert.Null(machine.Virtio[0].Device);
    }

    [Theory]
    [InlineData("missing", "disk image '{dir}/missing.img' does not exist")]
    [InlineData("qcow2", "cluster size 2^0 is out of range")]
    [InlineData("nine", "do not fit in the board's 8 virtio-mmio slots")]
    [InlineData("format", "format 'vmdk' is not supported")]
    [InlineData("option", "unknown option 'cache'")]
    public void Disk_configuration_errors_are_one_line_with_exit_code_2(string what, string expected)
    {
        string dir = Path.Combine(guest.WorkDir, "errors-" + what);
        Directory.CreateDirectory(dir);
        string ok = Path.Combine(dir, "ok.img");
        File.WriteAllBytes(ok, new byte[4096]);
        string qcow = Path.Combine(dir, "disk.qcow2");
        File.WriteAllBytes(qcow, [(byte)'Q', (byte)'F', (byte)'I', 0xfb, 0, 0, 0, 3, .. new byte[4088]]);
        string[] disks = what switch
        {
            "missing" => ["--disk", Path.Combine(dir, "missing.img")],
            "qcow2" => ["--disk", qcow],
            "nine" => [.. Enumerable.Range(0, 9).SelectMany(i => new[] { "--disk", $"{ok},readonly=on" })],
            "format" => ["--disk", $"{ok},format=vmdk"],
            _ => ["--disk", $"{ok},cache=none"],
        };
        using var vm = TrapezeProcess.Start(output, ["run", "--kernel", ok, .. disks]);
        Assert.Equal(2, vm.WaitForExit(TimeSpan.FromSeconds(60)));
        string[] lines = vm.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("trapeze: ", lines[0]);
        Assert.Contains(expected.Replace("{dir}", dir), lines[0]);
    }
}

/// <summary>The <c>trapeze</c> command (built beside the tests) as a child process, its console captured
/// line by line.</summary>
internal sealed class TrapezeProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly StringBuilder _stderr = new();
    private readonly ITestOutputHelper _log;

    private TrapezeProcess(Process process, ITestOutputHelper log)
    {
        _process = process;
        _log = log;
    }

    public static TrapezeProcess Start(ITestOutputHelper log, params string[] args)
    {
        ProcessStartInfo psi = TrapezeCli.StartInfo(args);
        psi.StandardOutputEncoding = Encoding.UTF8;
        var p = new Process { StartInfo = psi };
        var t = new TrapezeProcess(p, log);
        p.OutputDataReceived += (_, e) =>
        {
            if (e.Data == null) return;
            lock (t._lines)
            {
                t._lines.Add(e.Data.TrimEnd('\r'));
                Monitor.PulseAll(t._lines);
            }
        };
        p.ErrorDataReceived += (_, e) =>
        {
            if (e.Data == null) return;
            lock (t._stderr) t._stderr.Append(e.Data).Append('\n');
        };
        p.Start();
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        log.WriteLine($"$ trapeze {string.Join(' ', args)}");
        return t;
    }

    public string Stderr
    {
        get { lock (_stderr) return _stderr.ToString(); }
    }

    public string Transcript
    {
        get { lock (_lines) return string.Join('\n', _lines.TakeLast(80)); }
    }

    /// <summary>Waits for a line starting with <paramref name="prefix"/>.</summary>
    public void WaitFor(string prefix, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            bool exited = _process.HasExited;
            if (exited) _process.WaitForExit(); // all output delivered
            lock (_lines)
            {
                if (_lines.Any(l => l.StartsWith(prefix, StringComparison.Ordinal))) return;
                TimeSpan left = deadline - DateTime.UtcNow;
                Assert.True(!exited && left > TimeSpan.Zero,
                    $"no '{prefix}' line within {timeout.TotalSeconds} s (exited: {exited}); last output:\n{Transcript}\nstderr:\n{Stderr}");
                Monitor.Wait(_lines, left < TimeSpan.FromSeconds(1) ? left : TimeSpan.FromSeconds(1));
            }
        }
    }

    /// <summary>The last line starting with <paramref name="prefix"/> (fails if none).</summary>
    public string Line(string prefix)
    {
        lock (_lines)
        {
            string? line = _lines.LastOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
            Assert.True(line != null, $"no '{prefix}' line; output:\n{Transcript}");
            return line;
        }
    }

    public void Type(string text)
    {
        _process.StandardInput.Write(text);
        _process.StandardInput.Flush();
    }

    /// <summary>SIGKILL, as kill -9.</summary>
    public void Kill()
    {
        _process.Kill();
        _process.WaitForExit();
    }

    public int WaitForExit(TimeSpan timeout)
    {
        Assert.True(_process.WaitForExit(timeout), $"trapeze did not exit within {timeout.TotalSeconds} s; output:\n{Transcript}");
        _process.WaitForExit(); // drain the output
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill();
        _process.WaitForExit();
        _log.WriteLine(Transcript);
        if (Stderr.Length > 0) _log.WriteLine("stderr: " + Stderr);
        _process.Dispose();
    }
}

/// <summary>Host tools (e2fsprogs, QEMU), found as <see cref="HostPrerequisites"/> finds them.</summary>
internal static class Host
{
    public static ProcessResult Run(string tool, params string[] args) =>
        ProcessRunner.RunTool(HostPrerequisites.FindTool(tool) ?? tool, args);

    public static void AssertExit(this ProcessResult result, int expected) =>
        Assert.True(result.ExitCode == expected, $"expected exit {expected}: {result}");
}
