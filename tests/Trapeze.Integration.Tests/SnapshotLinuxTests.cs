using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;
using Trapeze.Machine;
using Trapeze.Machine.Snapshot;
using Xunit.Abstractions;

namespace Trapeze.Integration.Tests;

/// <summary>
/// Snapshots of a running Linux guest (Debian's kernel, the busybox guest; the built-in SBI on two harts, and
/// OpenSBI on one), in process: a shell loop counts on the serial console and writes each count to a virtio disk; the machine is
/// paused, saved and powered off; a new machine built from the same configuration restores the snapshot and
/// the count goes on from where it was — on the interpreter alone, then, restored again, with the translator —
/// and the console and the disk still work.
/// </summary>
[Collection(LinuxBootCollection.Name)]
public sealed partial class SnapshotLinuxTests(ITestOutputHelper output)
{
    private static readonly TimeSpan BootTimeout = TimeSpan.FromMinutes(5);

    private const string Script = """
        #!/bin/sh
        i=0; while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
        echo "SNAP ready"
        ( n=0; while :; do n=$((n+1)); echo "SNAP count $n $(cut -d' ' -f1 /proc/uptime)"; echo "$n" | dd of=/dev/vda bs=512 count=1 conv=sync,fsync 2>/dev/null; sleep 0.2; done ) &
        read -r line
        kill $!
        wait
        echo "SNAP input [$line]"
        echo "SNAP disk $(dd if=/dev/vda bs=512 count=1 2>/dev/null | tr -d '\000')"
        """;

    [Fact]
    public void With_the_builtin_SBI_on_two_harts_a_counting_guest_goes_on_after_restore() =>
        CountSaveRestore(FirmwareKind.Builtin, harts: 2);

    /// <summary>With OpenSBI the guest's timer runs through M-mode and the CLINT, whose state then matters.</summary>
    [HostFact(Needs.OpenSbi)]
    public void With_OpenSBI_a_counting_guest_goes_on_after_restore() =>
        CountSaveRestore(FirmwareKind.File, harts: 1);

    private void CountSaveRestore(FirmwareKind firmware, int harts)
    {
        GuestImage.Ensure();
        using var dir = new ScratchDirectory();
        string initrd = Path.Combine(dir.Path, "initramfs-snapshot.cpio.gz");
        using (var outFile = File.Create(initrd))
        {
            using (var input = File.OpenRead(GuestImage.Initrd)) input.CopyTo(outFile);
            using var gzip = new GZipStream(outFile, CompressionLevel.Fastest);
            gzip.Write(NewcArchive.Build([("snap-test.sh", 0x81ed, Encoding.ASCII.GetBytes(Script.Replace("\r\n", "\n")))]));
        }
        string disk = Path.Combine(dir.Path, "disk.img");
        using (var f = File.Create(disk)) f.SetLength(1 << 20);
        var config = new MachineConfig
        {
            Firmware = firmware,
            FirmwarePath = firmware == FirmwareKind.File ? HostPrerequisites.FwDynamic : null,
            Harts = harts,
            KernelPath = GuestImage.Kernel,
            InitrdPath = initrd,
            BootArgs = "console=ttyS0 run=/snap-test.sh",
            Disks = [new DiskConfig(disk, Format: "raw")],
            VirtioDevices = [VirtioDeviceKind.Rng, VirtioDeviceKind.Console],
        };
        string snapshot = Path.Combine(dir.Path, "vm.snap");

        // Boot and count, then save and power off.
        int lastBefore;
        using (var vm = new RunningMachine(config, output, load: true))
        {
            vm.WaitForLine(@"^SNAP count 5 ", BootTimeout);
            lastBefore = SaveAndStop(vm, snapshot);
        }
        Assert.True(lastBefore >= 5);

        // A machine of another memory size refuses the snapshot in one line, and is left usable.
        using (var other = new VirtMachine(config with { MemorySize = 256UL << 20 }, _ => { }))
        {
            var e = Assert.Throws<SnapshotException>(() => MachineSnapshot.Restore(other, snapshot));
            Assert.Equal("snapshot is of a machine with 512 MiB of memory; this machine has 256 MiB", e.Message);
        }

        // Restored on the interpreter alone: the count goes on from the next number.
        int lastInterpreted;
        using (var vm = new RunningMachine(config with { Jit = false }, output, load: false, restoreFrom: snapshot))
        {
            var first = vm.WaitForLine(@"^SNAP count (\d+) ", TimeSpan.FromSeconds(120));
            Assert.Equal(lastBefore + 1, int.Parse(first.Groups[1].Value));
            vm.WaitForLine($@"^SNAP count {lastBefore + 3} ", TimeSpan.FromSeconds(120));
            lastInterpreted = SaveAndStop(vm, snapshot);
        }

        // Restored again with the translator: it goes on, and the console and the disk answer.
        int written;
        using (var vm = new RunningMachine(config, output, load: false, restoreFrom: snapshot))
        {
            var first = vm.WaitForLine(@"^SNAP count (\d+) ", TimeSpan.FromSeconds(120));
            Assert.Equal(lastInterpreted + 1, int.Parse(first.Groups[1].Value));
            vm.WaitForLine($@"^SNAP count {lastInterpreted + 3} ", TimeSpan.FromSeconds(60));

            // Many short pauses in a row (harts stopped wherever they are: in the shell, in dd, in remote
            // fences, asleep), then a long one: the guest goes on, and its clock did not see the long one.
            for (int i = 0; i < 40; i++)
            {
                vm.Machine.Pause();
                vm.Machine.Resume();
                Thread.Sleep(i % 7);
            }
            var line = vm.WaitForLine($@"^SNAP count {lastInterpreted + 6} ([\d.]+)$", TimeSpan.FromSeconds(60));
            double uptime = double.Parse(line.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            vm.Machine.Pause();
            Thread.Sleep(3000);
            vm.Machine.Resume();
            var next = vm.WaitForLine($@"^SNAP count {lastInterpreted + 7} ([\d.]+)$", TimeSpan.FromSeconds(60));
            double gap = double.Parse(next.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) - uptime;
            output.WriteLine($"guest uptime across a 3 s pause: +{gap:F2} s");
            Assert.True(gap < 2.5, $"the guest's clock moved {gap:F2} s across a 3 s pause");
            vm.Machine.EnqueueConsoleInput("typed after restore\n"u8);
            vm.WaitForLine(@"^SNAP input \[typed after restore\]$", TimeSpan.FromSeconds(60));
            var onDisk = vm.WaitForLine(@"^SNAP disk (\d+)$", TimeSpan.FromSeconds(60));
            written = int.Parse(onDisk.Groups[1].Value);
            Assert.True(written > lastInterpreted + 2, $"the disk holds {written}");
            Assert.Equal(0, vm.WaitForExit(TimeSpan.FromSeconds(60)));
        }
        string hostView = Encoding.ASCII.GetString(File.ReadAllBytes(disk), 0, 16).TrimEnd('\0').Trim();
        Assert.Equal(written.ToString(System.Globalization.CultureInfo.InvariantCulture), hostView);
    }

    /// <summary>Pauses, saves (timed), powers off; returns the last count printed in full before the pause.</summary>
    private int SaveAndStop(RunningMachine vm, string path)
    {
        vm.Machine.Pause();
        string before = vm.Output;
        var sw = Stopwatch.StartNew();
        MachineSnapshot.Save(vm.Machine, path);
        output.WriteLine($"save: {sw.Elapsed.TotalMilliseconds:F0} ms, {new FileInfo(path).Length / 1024} KiB");
        Assert.True(vm.Machine.IsPaused);
        Assert.Equal(before, vm.Output); // nothing ran while paused
        vm.Machine.RequestPower(new Trapeze.Devices.Power.PowerRequest(Trapeze.Devices.Power.PowerRequestKind.PowerOff, 0));
        Assert.Equal(0, vm.WaitForExit(TimeSpan.FromSeconds(30)));
        var counts = CountLine().Matches(before);
        Assert.NotEmpty(counts);
        return int.Parse(counts[^1].Groups[1].Value);
    }

    [GeneratedRegex(@"^SNAP count (\d+) [\d.]+\r?\n", RegexOptions.Multiline)]
    private static partial Regex CountLine();

    /// <summary>A machine running on a thread of its own, its console output collected.</summary>
    private sealed class RunningMachine : IDisposable
    {
        private readonly StringBuilder _console = new();
        private readonly Task<int> _run;

        public RunningMachine(MachineConfig config, ITestOutputHelper log, bool load, string? restoreFrom = null)
        {
            Machine = new VirtMachine(config, b => { lock (_console) _console.Append((char)b); });
            if (load) Machine.Load();
            if (restoreFrom != null)
            {
                var sw = Stopwatch.StartNew();
                MachineSnapshot.Restore(Machine, restoreFrom);
                log.WriteLine($"restore (jit {(config.Jit ? "on" : "off")}): {sw.Elapsed.TotalMilliseconds:F0} ms");
            }
            _run = Task.Factory.StartNew(() => Machine.Run(), TaskCreationOptions.LongRunning);
        }

        public VirtMachine Machine { get; }

        public string Output
        {
            get { lock (_console) return _console.ToString(); }
        }

        /// <summary>Waits for a complete console line matching <paramref name="pattern"/>; returns the first such.</summary>
        public Match WaitForLine(string pattern, TimeSpan timeout)
        {
            var regex = new Regex(pattern, RegexOptions.Multiline);
            var deadline = DateTime.UtcNow + timeout;
            while (true)
            {
                string text = Output;
                int end = text.LastIndexOf('\n');
                if (end >= 0)
                {
                    foreach (string line in text[..end].Split('\n'))
                    {
                        var m = regex.Match(line.TrimEnd('\r'));
                        if (m.Success) return m;
                    }
                }
                if (_run.IsCompleted) Assert.Fail($"the machine stopped ({Describe()}) before '{pattern}':\n{Tail(text)}");
                if (DateTime.UtcNow > deadline) Assert.Fail($"no '{pattern}' within {timeout.TotalSeconds} s:\n{Tail(text)}");
                Thread.Sleep(50);
            }
        }

        public int WaitForExit(TimeSpan timeout)
        {
            Assert.True(_run.Wait(timeout), $"the machine did not stop:\n{Tail(Output)}");
            return _run.Result;
        }

        private string Describe() => _run.IsFaulted ? _run.Exception!.InnerException!.ToString() : $"exit {_run.Result}";

        private static string Tail(string text) => text.Length <= 3000 ? text : "..." + text[^3000..];

        public void Dispose()
        {
            if (!_run.IsCompleted)
            {
                Machine.RequestPower(new Trapeze.Devices.Power.PowerRequest(Trapeze.Devices.Power.PowerRequestKind.Fail, 1));
                _run.Wait(TimeSpan.FromSeconds(30));
            }
            Machine.Dispose();
        }
    }
}
