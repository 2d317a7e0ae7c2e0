using Trapeze.Tests.Shared;
using System.Net;
using System.Net.Sockets;
using Trapeze.Core.Cpu;
using Trapeze.Jit.Fuzz;
using Trapeze.Machine.Migration;
using Xunit.Abstractions;

namespace Trapeze.Machine.Tests.Migration;

/// <summary>
/// Live migration over loopback TCP of a running bare-metal guest whose harts keep rewriting and re-checking
/// their own memory: the destination's RAM equals the source's at the switch, the guest goes on there with
/// its checks passing, and broken or corrupted streams leave the source guest running.
/// </summary>
public sealed unsafe partial class LiveMigrationTests(ITestOutputHelper output)
{
    private const ulong Dram = VirtMachine.DramBase;
    private const ulong Status = Dram + 0x8_0000;          // per hart: passes at +0, failures at +8
    private const ulong Areas = Dram + 0x10_0000;          // per hart: the area it rewrites and checks
    private const ulong AreaSize = 4UL << 20;

    private static MachineConfig Config(bool jit, int harts = 2, ulong memory = 64UL << 20) => new()
    {
        MemorySize = memory,
        Harts = harts,
        Firmware = FirmwareKind.None,
        Jit = jit,
    };

    /// <summary>
    /// Each pass: seed = passes; every word of the area := seed + its address; then every word is checked
    /// (a mismatch counts a failure); passes++.
    /// </summary>
    private static uint[] Workload() =>
    [
        Encode.I(0, 12, 3, 18, 0x03),          //  0 outer: ld s2, 0(a2)
        Encode.Addi(5, 10, 0),                 //  1 mv t0, a0
        Encode.Addi(6, 11, 0),                 //  2 mv t1, a1
        Add(7, 18, 5),                         //  3 wloop: add t2, s2, t0
        Sd(7, 5, 0),                           //  4 sd t2, 0(t0)
        Encode.Addi(5, 5, 8),                  //  5
        Encode.Addi(6, 6, -1),                 //  6
        Encode.Branch(1, 6, 0, -16),           //  7 bnez t1, wloop
        Encode.Addi(5, 10, 0),                 //  8
        Encode.Addi(6, 11, 0),                 //  9
        Encode.I(0, 5, 3, 28, 0x03),           // 10 vloop: ld t3, 0(t0)
        Add(7, 18, 5),                         // 11 add t2, s2, t0
        Encode.Branch(0, 28, 7, 16),           // 12 beq t3, t2, ok
        Encode.I(8, 12, 3, 29, 0x03),          // 13 ld t4, 8(a2)
        Encode.Addi(29, 29, 1),                // 14
        Sd(29, 12, 8),                         // 15 sd t4, 8(a2)
        Encode.Addi(5, 5, 8),                  // 16 ok:
        Encode.Addi(6, 6, -1),                 // 17
        Encode.Branch(1, 6, 0, -32),           // 18 bnez t1, vloop
        Encode.Addi(18, 18, 1),                // 19
        Sd(18, 12, 0),                         // 20 sd s2, 0(a2)
        Encode.Jal(0, -84),                    // 21 j outer
    ];

    private static uint Add(int rd, int rs1, int rs2) => Encode.R(0, rs2, rs1, 0, rd, 0x33);

    private static uint Sd(int rs2, int rs1, long imm) =>
        ((uint)(imm >> 5) & 0x7f) << 25 | (uint)rs2 << 20 | (uint)rs1 << 15 | 3u << 12 | ((uint)imm & 0x1f) << 7 | 0x23;

    private static VirtMachine StartSource(MachineConfig config, HartThreadsStateTransfer transfer)
    {
        var m = new VirtMachine(config, _ => { });
        StartWorkload(m, transfer);
        return m;
    }

    private static void StartWorkload(VirtMachine m, HartThreadsStateTransfer transfer)
    {
        uint[] code = Workload();
        var bytes = new byte[code.Length * 4];
        Buffer.BlockCopy(code, 0, bytes, 0, bytes.Length);
        Assert.True(m.Memory.TryLoad(Dram, bytes));
        foreach (Hart h in m.Harts)
        {
            h.Reset(Dram);
            h.State->X[10] = Areas + (ulong)h.HartId * AreaSize;
            h.State->X[11] = AreaSize / 8;
            h.State->X[12] = Status + (ulong)h.HartId * 0x1000;
        }
        transfer.Start(m);
    }

    private static (ulong Passes, ulong Failures) Progress(VirtMachine m, int hart)
    {
        Assert.True(m.Memory.TryReadU64(Status + (ulong)hart * 0x1000, out ulong passes));
        Assert.True(m.Memory.TryReadU64(Status + (ulong)hart * 0x1000 + 8, out ulong failures));
        return (passes, failures);
    }

    private static void WaitForPasses(VirtMachine m, ulong beyond, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (Enumerable.Range(0, m.Harts.Length).Any(h => Progress(m, h).Passes <= beyond))
        {
            Assert.True(DateTime.UtcNow < deadline, "the guest made no progress");
            Thread.Sleep(10);
        }
    }

    /// <summary>A loopback connection: the destination's end is accepted on a thread that runs
    /// <paramref name="receive"/>.</summary>
    private static (NetworkStream Source, Background<T> Destination) Connect<T>(Func<NetworkStream, T> receive)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var destination = new Background<T>(() =>
        {
            using TcpClient c = listener.AcceptTcpClient();
            listener.Stop();
            c.NoDelay = true;
            using NetworkStream s = c.GetStream();
            return receive(s);
        });
        var client = new TcpClient { NoDelay = true };
        client.Connect(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        return (client.GetStream(), destination);
    }

    /// <summary>A function run on a thread of its own; <see cref="Result"/> joins it.</summary>
    private sealed class Background<T>
    {
        private readonly Thread _thread;
        private T? _result;
        private Exception? _error;

        public Background(Func<T> run)
        {
            _thread = new Thread(() =>
            {
                try { _result = run(); }
                catch (Exception e) { _error = e; }
            }) { IsBackground = true };
            _thread.Start();
        }

        public T Result
        {
            get
            {
                Assert.True(_thread.Join(TimeSpan.FromSeconds(120)), "the destination did not finish");
                if (_error != null) throw new InvalidOperationException("the destination failed", _error);
                return _result!;
            }
        }
    }

    /// <summary>With a zero target downtime pre-copy runs dirty rounds until the round limit or lack of progress
    /// cuts it off (or the guest happens to dirty almost nothing in a round, while it only checks).</summary>
    [Theory]
    [InlineData(false, 300)]
    [InlineData(true, 300)]
    [InlineData(false, 0)]
    [InlineData(true, 0)]
    public void ARunningGuestMovesAndKeepsCheckingItsMemory(bool jit, int targetDowntimeMs)
    {
        var transfer = new HartThreadsStateTransfer();
        MachineConfig config = Config(jit);
        using VirtMachine source = StartSource(config, transfer);
        VirtMachine? destination = null;
        string? ramMismatch = "not compared";
        var destTransfer = new HartThreadsStateTransfer
        {
            // The source is paused now: the destination must hold exactly its RAM before running.
            BeforeStart = d => ramMismatch = CompareRam(source, d),
        };
        try
        {
            WaitForPasses(source, 1, TimeSpan.FromSeconds(30));
            var (stream, received) = Connect(s => LiveMigration.Receive(config, s, new ReceiveOptions { State = destTransfer }));
            MigrationReport report;
            using (stream)
                report = LiveMigration.Send(source, stream, new MigrationOptions
                {
                    State = transfer,
                    TargetDowntime = TimeSpan.FromMilliseconds(targetDowntimeMs),
                    // Without a target, many rounds of collection race the running harts.
                    MaxRounds = targetDowntimeMs == 0 ? 20 : 6,
                    MaxRoundsWithoutProgress = 20,
                    OnRound = r => output.WriteLine(r.ToString()),
                });
            destination = received.Result;
            output.WriteLine(report.Summary());
            Assert.Null(ramMismatch);

            var atSwitch = Enumerable.Range(0, config.Harts).Select(h => Progress(source, h)).ToArray();
            WaitForPasses(destination, atSwitch.Max(p => p.Passes) + 2, TimeSpan.FromSeconds(30));
            for (int h = 0; h < config.Harts; h++)
            {
                Assert.Equal(0UL, Progress(destination, h).Failures);
                // The source stays paused: the guest lives on the destination alone.
                Assert.Equal(atSwitch[h], Progress(source, h));
            }
            Assert.True(report.Rounds.Count >= (targetDowntimeMs == 0 ? 3 : 2));
            if (targetDowntimeMs != 0) Assert.True(report.Converged);
            Assert.True(report.Rounds[^1].StopAndCopy);
            Assert.True(report.Downtime > TimeSpan.Zero && report.Downtime < report.TotalTime);
        }
        finally
        {
            destTransfer.StopAll();
            transfer.StopAll();
            destination?.Dispose();
        }
    }

    /// <summary>
    /// The migration benchmark (bench/migration.sh), run only when TRAPEZE_MIGRATION_BENCH gives the guest's
    /// memory in MiB: half the RAM holds data (as a guest's page cache would), and two harts keep rewriting
    /// and checking 4 MiB each with translated code. Prints one MIGRATION line per run.
    /// </summary>
    [MigrationBenchFact]
    public void Bench()
    {
        ulong mib = ulong.Parse(Environment.GetEnvironmentVariable(MigrationBenchFactAttribute.Variable)!, System.Globalization.CultureInfo.InvariantCulture);
        int runs = int.TryParse(Environment.GetEnvironmentVariable("TRAPEZE_MIGRATION_BENCH_RUNS"), out int n) ? n : 1;
        MachineConfig config = Config(jit: true, memory: mib << 20);
        for (int run = 0; run < runs; run++)
        {
            var transfer = new HartThreadsStateTransfer();
            var destTransfer = new HartThreadsStateTransfer();
            using VirtMachine source = new VirtMachine(config, _ => { });
            // Resident data in the upper half, written before the workload starts.
            var random = new Random(run);
            ulong half = source.Dram.Size / 2;
            var page = new byte[4096];
            for (ulong at = half; at < source.Dram.Size; at += 4096)
            {
                random.NextBytes(page);
                page.CopyTo(source.Dram.AsSpan(at, 4096));
            }
            StartWorkload(source, transfer);
            VirtMachine? destination = null;
            try
            {
                WaitForPasses(source, 1, TimeSpan.FromSeconds(60));
                var (stream, received) = Connect(s => LiveMigration.Receive(config, s, new ReceiveOptions { State = destTransfer }));
                MigrationReport report;
                using (stream)
                    report = LiveMigration.Send(source, stream, new MigrationOptions { State = transfer });
                destination = received.Result;
                ulong atSwitch = Enumerable.Range(0, config.Harts).Max(h => Progress(source, h).Passes);
                WaitForPasses(destination, atSwitch + 1, TimeSpan.FromSeconds(60));
                for (int h = 0; h < config.Harts; h++) Assert.Equal(0UL, Progress(destination, h).Failures);
                string line = string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"MIGRATION guest=baremetal memory={mib}MiB rounds={report.Rounds.Count} converged={report.Converged} " +
                    $"total_ms={report.TotalTime.TotalMilliseconds:F0} downtime_ms={report.Downtime.TotalMilliseconds:F1} " +
                    $"sent_mib={report.BytesSent / 1048576.0:F1} final_pages={report.Rounds[^1].Pages} " +
                    $"round_pages={string.Join(',', report.Rounds.Select(r => r.Pages))}");
                output.WriteLine(line);
                Console.WriteLine(line);
            }
            finally
            {
                destTransfer.StopAll();
                transfer.StopAll();
                destination?.Dispose();
            }
        }
    }

    private static string? CompareRam(VirtMachine source, VirtMachine destination)
    {
        for (int r = 0; r < source.Bus.Memories.Count; r++)
        {
            var a = source.Bus.Memories[r];
            var b = destination.Bus.Memories[r];
            for (ulong p = 0; p < a.PageCount; p++)
                if (!a.AsSpan(p << 12, 4096).SequenceEqual(b.AsSpan(p << 12, 4096)))
                    return $"{a.Name} page 0x{a.Base + (p << 12):x} differs";
        }
        return null;
    }

    [Fact]
    public void ADestinationOfAnotherShapeRefusesAndTheSourceRunsOn()
    {
        var transfer = new HartThreadsStateTransfer();
        using VirtMachine source = StartSource(Config(jit: false), transfer);
        try
        {
            var (stream, received) = Connect(s =>
            {
                try { LiveMigration.Receive(Config(jit: false, memory: 128UL << 20), s, new ReceiveOptions { State = new HartThreadsStateTransfer() }); return null; }
                catch (MigrationException e) { return (string?)e.Message; }
            });
            MigrationException e;
            using (stream)
                e = Assert.Throws<MigrationException>(() => LiveMigration.Send(source, stream, new MigrationOptions { State = transfer }));
            Assert.Contains("machine mismatch", e.Message);
            Assert.Contains("machine mismatch", received.Result);
            Assert.False(source.Dram.DirtyLogging);
            AssertStillRunning(source);
        }
        finally
        {
            transfer.StopAll();
        }
    }

    /// <summary>A byte flipped in the RAM pages (while pre-copy runs) or in the state (while the source is
    /// paused): the destination detects it by checksum and refuses, and the source guest runs on.</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ACorruptedStreamIsRefusedAndTheSourceRunsOn(bool inState)
    {
        var transfer = new HartThreadsStateTransfer();
        MachineConfig config = Config(jit: false);
        using VirtMachine source = StartSource(config, transfer);
        try
        {
            WaitForPasses(source, 0, TimeSpan.FromSeconds(30));
            var (stream, received) = Connect(s =>
            {
                try { LiveMigration.Receive(config, s, new ReceiveOptions { State = new HartThreadsStateTransfer() }).Dispose(); return "accepted"; }
                catch (MigrationException e) { return e.Message; }
            });
            var corrupting = new CorruptingStream(stream, inState ? FrameType.State : FrameType.Pages);
            MigrationException e;
            using (stream)
                e = Assert.Throws<MigrationException>(() => LiveMigration.Send(source, corrupting, new MigrationOptions { State = transfer }));
            output.WriteLine($"source: {e.Message}");
            output.WriteLine($"destination: {received.Result}");
            Assert.True(corrupting.Corrupted);
            Assert.Contains("checksum mismatch", received.Result);
            Assert.False(source.Dram.DirtyLogging);
            AssertStillRunning(source);
        }
        finally
        {
            transfer.StopAll();
        }
    }

    [Fact]
    public void ASourcePausedBeforeAFailedMigrationStaysPaused()
    {
        var transfer = new HartThreadsStateTransfer();
        MachineConfig config = Config(jit: false);
        using VirtMachine source = StartSource(config, transfer);
        try
        {
            WaitForPasses(source, 0, TimeSpan.FromSeconds(30));
            Assert.True(transfer.Pause(source));
            var before = Enumerable.Range(0, config.Harts).Select(h => Progress(source, h)).ToArray();
            var (stream, received) = Connect(s =>
            {
                try { LiveMigration.Receive(config, s, new ReceiveOptions { State = new HartThreadsStateTransfer() }).Dispose(); return "accepted"; }
                catch (MigrationException e) { return e.Message; }
            });
            using (stream)
                Assert.Throws<MigrationException>(() => LiveMigration.Send(source, new CorruptingStream(stream, FrameType.State), new MigrationOptions { State = transfer }));
            Assert.Contains("checksum mismatch", received.Result);
            Thread.Sleep(100);
            Assert.Equal(before, Enumerable.Range(0, config.Harts).Select(h => Progress(source, h)).ToArray());
            Assert.All(source.Harts, h => Assert.False(h.IsExecuting));
        }
        finally
        {
            transfer.StopAll();
        }
    }

    private static void AssertStillRunning(VirtMachine m)
    {
        ulong before = Enumerable.Range(0, m.Harts.Length).Max(h => Progress(m, h).Passes);
        WaitForPasses(m, before + 1, TimeSpan.FromSeconds(30));
        for (int h = 0; h < m.Harts.Length; h++) Assert.Equal(0UL, Progress(m, h).Failures);
    }
}
