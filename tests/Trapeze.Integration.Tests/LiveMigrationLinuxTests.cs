using Trapeze.Tests.Shared;
using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Trapeze.Devices.Power;
using Trapeze.Machine;
using Trapeze.Machine.Migration;
using Xunit.Abstractions;

namespace Trapeze.Integration.Tests;

/// <summary>
/// Live migration of a running Linux guest (the default guest, built-in SBI, two harts) between two machines
/// in this process over loopback TCP. The guest runs a workload that keeps writing a file into tmpfs and
/// checking it, and re-checks a file of random bytes written once (pages that moved in the first round):
/// its checks go on passing on the destination. A corrupted stream is refused and the guest runs on at the
/// source.
/// </summary>
public sealed class LiveMigrationLinuxTests(ITestOutputHelper output) : IDisposable
{
    /// <summary>mig_big=MiB on the command line: the size of the file written once.</summary>
    private const string Workload = """
        #!/bin/sh
        arg() { for w in $(cat /proc/cmdline); do case $w in "$1="*) echo "${w#*=}"; return;; esac; done; }
        dd if=/dev/urandom of=/tmp/big bs=1M count=$(arg mig_big) 2>/dev/null
        big=$(md5sum < /tmp/big)
        i=0
        while :; do
          i=$((i+1))
          seq $i $((i+20000)) > /tmp/f
          a=$(md5sum < /tmp/f); b=$(seq $i $((i+20000)) | md5sum); c=$(md5sum < /tmp/big)
          if [ "$a" = "$b" ] && [ "$c" = "$big" ]; then echo "MIG ok $i"; else echo "MIG FAIL $i [$a] [$b] [$c] [$big]"; fi
        done
        """;

    private readonly string _work = Directory.CreateTempSubdirectory("trapeze-migrate-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(_work, true); }
        catch (IOException) { }
    }

    private MachineConfig Config(ulong memoryMiB, int bigMiB)
    {
        GuestImage.Ensure();
        string initrd = Path.Combine(_work, "initramfs-migrate.cpio.gz");
        if (!File.Exists(initrd))
        {
            using var file = File.Create(initrd);
            using (var input = File.OpenRead(GuestImage.Initrd)) input.CopyTo(file);
            using var gzip = new GZipStream(file, CompressionLevel.Fastest);
            gzip.Write(NewcArchive.Build([("migrate-workload.sh", 0x81ed, Encoding.ASCII.GetBytes(Workload.Replace("\r\n", "\n") + "\n"))]));
        }
        return new MachineConfig
        {
            Firmware = FirmwareKind.Builtin,
            KernelPath = GuestImage.Kernel,
            InitrdPath = initrd,
            BootArgs = $"console=ttyS0 run=/migrate-workload.sh mig_big={bigMiB}",
            MemorySize = memoryMiB << 20,
            Harts = 2,
        };
    }

    /// <summary>Console output split into lines, waited on.</summary>
    private sealed class GuestConsole
    {
        private readonly StringBuilder _line = new();
        private readonly List<string> _lines = [];

        public void Add(byte b)
        {
            lock (_lines)
            {
                if (b == '\n') { _lines.Add(_line.ToString().TrimEnd('\r')); _line.Clear(); Monitor.PulseAll(_lines); }
                else _line.Append((char)b);
            }
        }

        public string[] Lines { get { lock (_lines) return [.. _lines]; } }

        public int LastOk { get { lock (_lines) return LastOkLocked(); } }

        public void WaitForOk(int pass, TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            lock (_lines)
            {
                while (LastOkLocked() < pass)
                {
                    Assert.True(DateTime.UtcNow < deadline, $"no 'MIG ok {pass}' in time; last lines:\n{string.Join('\n', _lines.TakeLast(20))}");
                    Monitor.Wait(_lines, 1000);
                }
            }
        }

        private int LastOkLocked() =>
            _lines.Where(l => l.StartsWith("MIG ok ", StringComparison.Ordinal)).Select(l => int.Parse(l[7..], System.Globalization.CultureInfo.InvariantCulture)).DefaultIfEmpty(0).Max();

        public void AssertNoFailure() => Assert.DoesNotContain(Lines, l => l.StartsWith("MIG FAIL", StringComparison.Ordinal));
    }

    /// <summary>A source machine running its workload, and a destination that receives on a loopback port.</summary>
    private sealed class Pair : IDisposable
    {
        public readonly GuestConsole SourceConsole = new(), DestinationConsole = new();
        public readonly VirtMachine Source;
        private readonly Thread _sourceRun;
        private readonly MachineConfig _config;
        public VirtMachine? Destination;
        private Thread? _destinationRun;
        public Exception? ReceiveError;

        public Pair(MachineConfig config)
        {
            _config = config;
            Source = new VirtMachine(config, SourceConsole.Add);
            Source.Load();
            _sourceRun = new Thread(() => Source.Run()) { IsBackground = true, Name = "source" };
            _sourceRun.Start();
        }

        /// <summary>Migrates over loopback TCP, the source's writes going through <paramref name="wrap"/>.</summary>
        public MigrationReport Migrate(Func<Stream, Stream>? wrap = null, Action<MigrationRound>? onRound = null)
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var receiver = new Thread(() =>
            {
                try
                {
                    using TcpClient c = listener.AcceptTcpClient();
                    listener.Stop();
                    using NetworkStream s = c.GetStream();
                    Destination = LiveMigration.Receive(_config, s, new ReceiveOptions
                    {
                        ConsoleOutput = DestinationConsole.Add,
                        // Run waits while the machine is paused; the migration resumes it.
                        OnCreated = m =>
                        {
                            m.Pause();
                            _destinationRun = new Thread(() => m.Run()) { IsBackground = true, Name = "destination" };
                            _destinationRun.Start();
                        },
                    });
                }
                catch (Exception e) { ReceiveError = e; }
            }) { IsBackground = true };
            receiver.Start();
            try
            {
                using var client = new TcpClient { NoDelay = true };
                client.Connect(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
                using NetworkStream stream = client.GetStream();
                return LiveMigration.Send(Source, wrap?.Invoke(stream) ?? stream, new MigrationOptions
                {
                    OnRound = onRound,
                });
            }
            finally
            {
                Assert.True(receiver.Join(TimeSpan.FromMinutes(1)), "the destination did not finish");
            }
        }

        public void Dispose()
        {
            Destination?.RequestPower(new PowerRequest(PowerRequestKind.PowerOff, 0));
            _destinationRun?.Join(TimeSpan.FromSeconds(30));
            Destination?.Dispose();
            Source.RequestPower(new PowerRequest(PowerRequestKind.PowerOff, 0));
            Source.Resume();
            _sourceRun.Join(TimeSpan.FromSeconds(30));
            Source.Dispose();
        }
    }

    [Fact]
    public void A_running_Linux_guest_migrates_and_its_workload_keeps_passing()
    {
        using var pair = new Pair(Config(256, 8));
        pair.SourceConsole.WaitForOk(2, TimeSpan.FromMinutes(5));
        MigrationReport report = pair.Migrate(onRound: r => output.WriteLine(r.ToString()));
        output.WriteLine(report.Summary());
        Assert.Null(pair.ReceiveError);
        Assert.True(pair.Source.IsPaused);

        int atSwitch = pair.SourceConsole.LastOk;
        pair.DestinationConsole.WaitForOk(atSwitch + 3, TimeSpan.FromMinutes(3));
        pair.SourceConsole.AssertNoFailure();
        pair.DestinationConsole.AssertNoFailure();
        // The source said nothing more: the guest lives on the destination alone.
        Assert.Equal(atSwitch, pair.SourceConsole.LastOk);
    }

    [Fact]
    public void A_corrupted_stream_is_refused_and_the_guest_runs_on_at_the_source()
    {
        using var pair = new Pair(Config(256, 8));
        pair.SourceConsole.WaitForOk(1, TimeSpan.FromMinutes(5));
        // A bit flipped in the machine state, sent while the source is paused: it must resume.
        var e = Assert.Throws<MigrationException>(() => pair.Migrate(s => new CorruptingStream(s, FrameType.State)));
        output.WriteLine($"source: {e.Message}");
        Assert.Contains("checksum mismatch", e.Message);
        Assert.IsType<MigrationException>(pair.ReceiveError);
        Assert.Null(pair.Destination);
        Assert.False(pair.Source.IsPaused);
        Assert.False(pair.Source.Dram.DirtyLogging);
        pair.SourceConsole.WaitForOk(pair.SourceConsole.LastOk + 2, TimeSpan.FromMinutes(3));
        pair.SourceConsole.AssertNoFailure();
    }

    /// <summary>The Linux figure of bench/migration.sh (--guest linux): runs only when TRAPEZE_MIGRATION_BENCH
    /// gives the guest's memory in MiB; the workload's file written once is a quarter of it.</summary>
    [MigrationBenchFact]
    public void Bench()
    {
        ulong mib = ulong.Parse(Environment.GetEnvironmentVariable(MigrationBenchFactAttribute.Variable)!, System.Globalization.CultureInfo.InvariantCulture);
        int runs = int.TryParse(Environment.GetEnvironmentVariable("TRAPEZE_MIGRATION_BENCH_RUNS"), out int n) ? n : 1;
        for (int run = 0; run < runs; run++)
        {
            using var pair = new Pair(Config(mib, (int)(mib / 4)));
            pair.SourceConsole.WaitForOk(2, TimeSpan.FromMinutes(10));
            MigrationReport report = pair.Migrate();
            Assert.Null(pair.ReceiveError);
            pair.DestinationConsole.WaitForOk(pair.SourceConsole.LastOk + 2, TimeSpan.FromMinutes(5));
            pair.DestinationConsole.AssertNoFailure();
            string line = string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"MIGRATION guest=linux memory={mib}MiB rounds={report.Rounds.Count} converged={report.Converged} " +
                $"total_ms={report.TotalTime.TotalMilliseconds:F0} downtime_ms={report.Downtime.TotalMilliseconds:F1} " +
                $"sent_mib={report.BytesSent / 1048576.0:F1} final_pages={report.Rounds[^1].Pages} " +
                $"round_pages={string.Join(',', report.Rounds.Select(r => r.Pages))}");
            output.WriteLine(line);
            Console.WriteLine(line);
        }
    }
}
