using Trapeze.Tests.Shared;
using System.Buffers.Binary;
using System.Diagnostics;
using Trapeze.Devices.Storage;
using Trapeze.Machine.Migration;

namespace Trapeze.Machine.Tests.Migration;

/// <summary>
/// Writable disks copied during pre-copy: a writer standing in for the guest's disk requests keeps writing
/// the source disk while the migration runs (and stops when the source pauses, as a paused machine's device
/// workers do); the destination's new image must then hold exactly the source's contents at the switch.
/// </summary>
public sealed partial class LiveMigrationTests
{
    private const ulong DiskSize = 8UL << 20;

    private sealed class TempDir : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("trapeze-migdisk-").FullName;
        public string this[string name] => System.IO.Path.Combine(Path, name);
        public void Dispose() => Directory.Delete(Path, recursive: true);
    }

    private static MachineConfig WithDisk(MachineConfig config, string path, string format) =>
        config with { Disks = [new DiskConfig(path, Format: format)] };

    /// <summary>Writes 4 KiB pieces at pseudo-random places of the first half of disk 0 until the machine pauses;
    /// counts them.</summary>
    private sealed class DiskWriter(IMachineStateTransfer inner) : IMachineStateTransfer
    {
        private Thread? _thread;
        private volatile bool _stop;
        public long Writes;

        public void StartWriting(VirtMachine machine)
        {
            IDiskImage disk = machine.Disks[0].Disk;
            _thread = new Thread(() =>
            {
                var random = new Random(7);
                var data = new byte[4096];
                while (!_stop)
                {
                    // The first half only: the second stays zero, which round 1 must not send.
                    ulong offset = (ulong)random.Next((int)(disk.Length / 2 / 4096)) * 4096;
                    random.NextBytes(data);
                    disk.Write(offset, data);
                    // Now and then a range goes back to zeroes, as a guest's discard would make it.
                    if (random.Next(16) == 0) disk.WriteZeroes(offset, 4096, mayUnmap: true);
                    Interlocked.Increment(ref Writes);
                    Thread.SpinWait(2000);
                }
            }) { IsBackground = true };
            _thread.Start();
        }

        public void StopWriting()
        {
            _stop = true;
            _thread?.Join();
        }

        public bool Pause(VirtMachine machine)
        {
            StopWriting();
            return inner.Pause(machine);
        }

        public void Resume(VirtMachine machine) => inner.Resume(machine);
        public void SaveState(VirtMachine machine, Stream destination) => inner.SaveState(machine, destination);
        public void RestoreState(VirtMachine machine, Stream source) => inner.RestoreState(machine, source);
        public void Start(VirtMachine machine) => inner.Start(machine);
    }

    /// <summary>Fills every other 64 KiB block of the first half with data, leaving the rest zero (unallocated).</summary>
    private static void Prefill(string path, string format)
    {
        using IDiskImage image = DiskImages.Open(path, new DiskOpenOptions(format));
        var random = new Random(3);
        var block = new byte[MigrationProtocol.DiskBlockSize];
        for (ulong offset = 0; offset < image.Length / 2; offset += 2 * (ulong)block.Length)
        {
            random.NextBytes(block);
            image.Write(offset, block);
        }
        image.Flush();
    }

    private static string? CompareDisks(IDiskImage a, IDiskImage b)
    {
        if (a.Length != b.Length) return $"sizes {a.Length} and {b.Length}";
        var x = new byte[1 << 20];
        var y = new byte[1 << 20];
        for (ulong offset = 0; offset < a.Length; offset += (ulong)x.Length)
        {
            a.Read(offset, x);
            b.Read(offset, y);
            if (!x.AsSpan().SequenceEqual(y)) return $"contents differ in the MiB at 0x{offset:x}";
        }
        return null;
    }

    [Theory]
    [InlineData(DiskImages.Qcow2)]
    [InlineData(DiskImages.Raw)]
    public void ADiskWrittenDuringPreCopyArrivesWhole(string format)
    {
        using var dir = new TempDir();
        DiskImages.Create(dir["source.img"], format, DiskSize);
        DiskImages.Create(dir["destination.img"], format, DiskSize);
        Prefill(dir["source.img"], format);
        var transfer = new HartThreadsStateTransfer();
        var writer = new DiskWriter(transfer);
        MachineConfig config = Config(jit: false);
        using VirtMachine source = StartSource(WithDisk(config, dir["source.img"], format), transfer);
        VirtMachine? destination = null;
        string? diskMismatch = "not compared", ramMismatch = "not compared";
        var destTransfer = new HartThreadsStateTransfer
        {
            BeforeStart = d =>
            {
                ramMismatch = CompareRam(source, d);
                diskMismatch = CompareDisks(source.Disks[0].Disk, d.Disks[0].Disk);
            },
        };
        try
        {
            writer.StartWriting(source);
            WaitForPasses(source, 1, TimeSpan.FromSeconds(30));
            var (stream, received) = Connect(s => LiveMigration.Receive(WithDisk(config, dir["destination.img"], format), s,
                new ReceiveOptions { State = destTransfer }));
            MigrationReport report;
            using (stream)
                report = LiveMigration.Send(source, stream, new MigrationOptions
                {
                    State = writer,
                    // Several rounds, so that blocks written after their first copy are sent again.
                    TargetDowntime = TimeSpan.Zero,
                    MaxRounds = 4,
                    MaxRoundsWithoutProgress = 10,
                    OnRound = r => output.WriteLine(r.ToString()),
                });
            destination = received.Result;
            output.WriteLine($"{report.Summary()}; {writer.Writes} disk writes");
            Assert.Null(ramMismatch);
            Assert.Null(diskMismatch);
            Assert.True(writer.Writes > 0);
            Assert.True(report.Rounds[0].DiskBlocks >= 32, "round 1 sends the data written before the migration");
            Assert.True(report.Rounds[0].DiskBlocks <= (long)(DiskSize / 2 / MigrationProtocol.DiskBlockSize), "round 1 skips zero blocks");
            Assert.True(report.Rounds.Skip(1).Sum(r => r.DiskBlocks) > 0, "later rounds send the blocks written meanwhile");
            Assert.False(((DirtyTrackingDiskImage)source.Disks[0].Disk).Tracking);
            if (format == DiskImages.Qcow2)
            {
                // Zero blocks are not written, so they stay unallocated: the copy is no larger than the original
                // (give or take a metadata cluster or two).
                long sourceLength = new FileInfo(dir["source.img"]).Length, copyLength = new FileInfo(dir["destination.img"]).Length;
                output.WriteLine($"qcow2 files: source {sourceLength} bytes, copy {copyLength} bytes");
                Assert.True(copyLength <= sourceLength + 2 * 65536, $"copy {copyLength} bytes, source {sourceLength}");
            }
        }
        finally
        {
            writer.StopWriting();
            destTransfer.StopAll();
            transfer.StopAll();
            destination?.Dispose();
        }
        if (format == DiskImages.Qcow2) AssertQemuImgCheck(dir["destination.img"]);
    }

    /// <summary>
    /// The disk migration benchmark, run only when TRAPEZE_MIGRATION_BENCH is set (its value is the disk's size in
    /// MiB): a qcow2 disk half full of data, written meanwhile at random; prints one MIGRATION-DISK line.
    /// </summary>
    [MigrationBenchFact]
    public void DiskBench()
    {
        ulong size = ulong.Parse(Environment.GetEnvironmentVariable(MigrationBenchFactAttribute.Variable)!, System.Globalization.CultureInfo.InvariantCulture) << 20;
        using var dir = new TempDir();
        DiskImages.Create(dir["source.img"], DiskImages.Qcow2, size);
        DiskImages.Create(dir["destination.img"], DiskImages.Qcow2, size);
        Prefill(dir["source.img"], DiskImages.Qcow2);
        var transfer = new HartThreadsStateTransfer();
        var writer = new DiskWriter(transfer);
        MachineConfig config = Config(jit: true);
        using VirtMachine source = StartSource(WithDisk(config, dir["source.img"], DiskImages.Qcow2), transfer);
        var destTransfer = new HartThreadsStateTransfer();
        VirtMachine? destination = null;
        try
        {
            writer.StartWriting(source);
            var (stream, received) = Connect(s => LiveMigration.Receive(WithDisk(config, dir["destination.img"], DiskImages.Qcow2), s,
                new ReceiveOptions { State = destTransfer }));
            MigrationReport report;
            using (stream) report = LiveMigration.Send(source, stream, new MigrationOptions { State = writer });
            destination = received.Result;
            output.WriteLine($"MIGRATION-DISK {size >> 20} MiB qcow2: {report.Summary()}; {writer.Writes} disk writes");
        }
        finally
        {
            writer.StopWriting();
            destTransfer.StopAll();
            transfer.StopAll();
            destination?.Dispose();
        }
    }

    /// <summary>A byte flipped in a disk block is caught by the frame checksum; the source runs on with its
    /// disk untracked and as it was.</summary>
    [Fact]
    public void ACorruptedDiskBlockIsRefusedAndTheSourceRunsOn()
    {
        using var dir = new TempDir();
        DiskImages.Create(dir["source.img"], DiskImages.Qcow2, DiskSize);
        DiskImages.Create(dir["destination.img"], DiskImages.Qcow2, DiskSize);
        Prefill(dir["source.img"], DiskImages.Qcow2);
        byte[] before = ReadAll(dir["source.img"]);
        var transfer = new HartThreadsStateTransfer();
        MachineConfig config = Config(jit: false);
        using VirtMachine source = StartSource(WithDisk(config, dir["source.img"], DiskImages.Qcow2), transfer);
        try
        {
            var (stream, received) = Connect(s =>
            {
                try { LiveMigration.Receive(WithDisk(config, dir["destination.img"], DiskImages.Qcow2), s, new ReceiveOptions { State = new HartThreadsStateTransfer() }).Dispose(); return "accepted"; }
                catch (MigrationException e) { return e.Message; }
            });
            var corrupting = new CorruptingStream(stream, FrameType.DiskBlocks);
            using (stream)
                Assert.Throws<MigrationException>(() => LiveMigration.Send(source, corrupting, new MigrationOptions { State = transfer }));
            Assert.True(corrupting.Corrupted);
            Assert.Contains("checksum mismatch", received.Result);
            Assert.False(((DirtyTrackingDiskImage)source.Disks[0].Disk).Tracking);
            AssertStillRunning(source);
            var after = new byte[DiskSize];
            source.Disks[0].Disk.Read(0, after);
            Assert.True(before.AsSpan().SequenceEqual(after), "the source disk changed");
        }
        finally
        {
            transfer.StopAll();
        }
    }

    /// <summary>A hand-made stream names a block past the end of the destination's disk, or a disk the
    /// destination holds read-only: refused before anything is written.</summary>
    [Theory]
    [InlineData(0u, DiskSize / MigrationProtocol.DiskBlockSize, "disk block index")]
    [InlineData(0u, ulong.MaxValue >> 1, "disk block index")]
    [InlineData(1u, 0UL, "disk index")]
    [InlineData(2u, 0UL, "disk index")]
    public void ADiskBlockOutsideTheDestinationsDisksIsRefused(uint disk, ulong block, string refusal)
    {
        using var dir = new TempDir();
        DiskImages.Create(dir["destination.img"], DiskImages.Qcow2, DiskSize);
        DiskImages.Create(dir["shared.img"], DiskImages.Raw, 1 << 20);
        MachineConfig config = Config(jit: false) with
        {
            Disks = [new DiskConfig(dir["destination.img"], Format: DiskImages.Qcow2), new DiskConfig(dir["shared.img"], ReadOnly: true, Format: DiskImages.Raw)],
        };
        var (stream, received) = Connect(s =>
        {
            try { LiveMigration.Receive(config, s, new ReceiveOptions { State = new HartThreadsStateTransfer() }).Dispose(); return "accepted"; }
            catch (MigrationException e) { return e.Message; }
        });
        using (stream)
        {
            using (var shape = new VirtMachine(config with { Disks = [] }, _ => { }))
            {
                var description = MachineDescription.Of(shape) with { Disks = [new DiskDescription(DiskSize, false), new DiskDescription(1 << 20, true)] };
                MigrationProtocol.WriteFrame(stream, FrameType.Hello, description.Encode());
            }
            var frame = new byte[MigrationProtocol.MaxPayload];
            Assert.Equal(FrameType.HelloReply, MigrationProtocol.ReadFrame(stream, frame, out _));
            Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(frame));
            var batch = new byte[8 + 8 + MigrationProtocol.DiskBlockSize];
            BinaryPrimitives.WriteUInt32LittleEndian(batch, disk);
            BinaryPrimitives.WriteUInt32LittleEndian(batch.AsSpan(4), 1);
            BinaryPrimitives.WriteUInt64LittleEndian(batch.AsSpan(8), block);
            batch.AsSpan(16).Fill(0xa5);
            MigrationProtocol.WriteFrame(stream, FrameType.DiskBlocks, batch);
            stream.Flush();
            Assert.Contains(refusal, received.Result);
        }
        using IDiskImage image = DiskImages.Open(dir["destination.img"], new DiskOpenOptions(DiskImages.Qcow2, ReadOnly: true));
        var all = new byte[DiskSize];
        image.Read(0, all);
        Assert.False(all.AsSpan().ContainsAnyExcept((byte)0));
    }

    private static byte[] ReadAll(string path)
    {
        using IDiskImage image = DiskImages.Open(path, new DiskOpenOptions(ReadOnly: true));
        var all = new byte[image.Length];
        image.Read(0, all);
        return all;
    }

    /// <summary>qemu-img's own consistency check of a qcow2 image written by the destination (skipped where
    /// qemu-img is not installed).</summary>
    private void AssertQemuImgCheck(string path)
    {
        ProcessStartInfo start = new("qemu-img", ["check", "-f", "qcow2", path]) { RedirectStandardOutput = true, RedirectStandardError = true };
        Process? p;
        try { p = Process.Start(start); }
        catch (System.ComponentModel.Win32Exception) { output.WriteLine("qemu-img not installed: check skipped"); return; }
        using (Process proc = p ?? throw new InvalidOperationException("qemu-img did not start"))
        {
            string text = proc.StandardOutput.ReadToEnd() + proc.StandardError.ReadToEnd();
            proc.WaitForExit();
            output.WriteLine(text);
            Assert.True(proc.ExitCode == 0, text);
        }
    }
}
