using System.Buffers.Binary;
using System.IO.Hashing;
using Trapeze.Devices.Virtio.Block;

namespace Trapeze.Machine.Snapshot;

/// <summary>
/// Snapshots of a machine (DESIGN.md, "The monitor around the machine"): its RAM and every component's State
/// record in one checksummed file (format: <see cref="SnapshotFormat"/>). A snapshot is restored into a machine
/// built from the same configuration (memory size, harts, firmware kind, virtio devices and disk sizes; the
/// translator may differ); disk contents are not in the snapshot: the disks are flushed when it is taken, and a
/// restore uses them as they are, so a snapshot goes with the disks as they were then.
/// <para>For migration the parts can go separately: <see cref="SaveRam"/> in rounds while the guest runs, then
/// <see cref="SaveState"/> once paused; the other side applies them with <see cref="RestoreRam"/> and
/// <see cref="RestoreState"/>. <see cref="RamPages"/> reads and writes single pages.</para>
/// </summary>
public static class MachineSnapshot
{
    /// <summary>
    /// Writes a full snapshot to <paramref name="path"/>: into a temporary file in the same directory, flushed to
    /// the disk, then renamed over <paramref name="path"/>, so that a crash at any moment leaves the previous file
    /// intact. A running machine is paused for the time it takes and resumed afterwards; a paused one stays paused.
    /// </summary>
    public static void Save(VirtMachine machine, string path)
    {
        ArgumentNullException.ThrowIfNull(machine);
        ArgumentException.ThrowIfNullOrEmpty(path);
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full) ?? ".";
        string temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                Save(machine, file);
                file.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
            SyncDirectory(dir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw new SnapshotException($"cannot write snapshot '{path}': {e.Message}", e);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>Writes a full snapshot to <paramref name="stream"/> (see <see cref="Save(VirtMachine, string)"/>
    /// for pausing). The stream is flushed, not closed.</summary>
    public static void Save(VirtMachine machine, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(machine);
        ArgumentNullException.ThrowIfNull(stream);
        machine.WhilePaused(() =>
        {
            FlushDisks(machine);
            var output = new SectionWriter(stream, SnapshotKind.Full);
            var w = new PayloadWriter();
            StateCodec.WriteDescription(machine, output, w);
            StateCodec.WriteStates(MachineState.CaptureHeld(machine), output, w);
            var ram = new RamCodec();
            ram.Write(machine.Rom, output, include: null, SectionTag.Rom);
            ram.Write(machine.Dram, output, include: null);
            output.Finish();
            return 0;
        });
    }

    /// <summary>
    /// Restores the snapshot in <paramref name="path"/> into <paramref name="machine"/>: one built from the same
    /// configuration and not loaded (then <see cref="VirtMachine.Run"/> continues the guest from the snapshot
    /// instead of booting), or one that ran (it is paused meanwhile and resumed afterwards unless it was paused).
    /// The whole file is checked first, so a refused snapshot (<see cref="SnapshotException"/>: truncated,
    /// corrupt, foreign, or of another configuration) leaves the machine as it was.
    /// </summary>
    public static void Restore(VirtMachine machine, string path)
    {
        ArgumentNullException.ThrowIfNull(machine);
        ArgumentException.ThrowIfNullOrEmpty(path);
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
            VerifyChecksum(file);
            file.Position = 0;
            Restore(machine, file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SnapshotException($"cannot read snapshot '{path}': {e.Message}", e);
        }
    }

    /// <summary>Checks that <paramref name="path"/> is a whole, uncorrupted snapshot of this format (its trailing
    /// checksum), without a machine: so that a caller can refuse a broken snapshot before it changes anything else
    /// (a bundle's disks, say). Whether it fits a machine is only known at <see cref="Restore(VirtMachine, string)"/>.</summary>
    public static void Verify(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        try
        {
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
            VerifyChecksum(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new SnapshotException($"cannot read snapshot '{path}': {e.Message}", e);
        }
    }

    /// <summary>
    /// Restores a full snapshot from <paramref name="stream"/> (see <see cref="Restore(VirtMachine, string)"/>).
    /// The description and component states are read and checked before the machine is touched; RAM is then
    /// written as it arrives, and the states applied only once the stream's checksum has been verified. A stream
    /// that breaks off or is corrupt inside RAM is refused too, but leaves RAM partly overwritten: restore again
    /// or discard the machine.
    /// </summary>
    public static void Restore(VirtMachine machine, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(machine);
        ArgumentNullException.ThrowIfNull(stream);
        machine.WhilePaused(() =>
        {
            var input = Open(machine, stream, SnapshotKind.Full);
            MachineState state = StateCodec.ReadStates(machine, input);
            var ram = new RamCodec();
            machine.Rom.Clear();
            ram.Read(machine.Rom, input, SectionTag.Rom);
            machine.Dram.Clear();
            ram.Read(machine.Dram, input);
            input.Finish();
            state.ApplyHeld(machine);
            return 0;
        });
    }

    /// <summary>Writes the machine description and the component states, without RAM (the last step of a
    /// migration). Pauses as <see cref="Save(VirtMachine, Stream)"/> does.</summary>
    public static void SaveState(VirtMachine machine, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(machine);
        ArgumentNullException.ThrowIfNull(stream);
        machine.WhilePaused(() =>
        {
            FlushDisks(machine);
            var output = new SectionWriter(stream, SnapshotKind.State);
            var w = new PayloadWriter();
            StateCodec.WriteDescription(machine, output, w);
            StateCodec.WriteStates(MachineState.CaptureHeld(machine), output, w);
            new RamCodec().Write(machine.Rom, output, include: null, SectionTag.Rom);
            output.Finish();
            return 0;
        });
    }

    /// <summary>Applies what <see cref="SaveState"/> wrote; RAM is left as it is. Nothing changes unless the whole
    /// stream is valid and fits the machine.</summary>
    public static void RestoreState(VirtMachine machine, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(machine);
        ArgumentNullException.ThrowIfNull(stream);
        machine.WhilePaused(() =>
        {
            var input = Open(machine, stream, SnapshotKind.State);
            MachineState state = StateCodec.ReadStates(machine, input);
            // The ROM is a few hundred bytes compressed: read whole before anything changes.
            var rom = new byte[machine.Rom.Size];
            new RamCodec().Read(machine.Rom.Size / RamPages.PageSize, machine.Rom.Name, input, SectionTag.Rom,
                (page, data) => data.CopyTo(rom.AsSpan(checked((int)page * RamPages.PageSize))));
            input.Finish();
            rom.CopyTo(machine.Rom.AsSpan(0, rom.Length));
            state.ApplyHeld(machine);
            return 0;
        });
    }

    /// <summary>
    /// Writes RAM pages: those <paramref name="includePage"/> selects (by page index from the start of RAM, all
    /// pages when null), zero or not. Does not pause the machine: pages change under a running guest, which is
    /// what migration rounds expect (pages written meanwhile are sent again in a later round).
    /// </summary>
    public static void SaveRam(VirtMachine machine, Stream stream, Func<ulong, bool>? includePage = null)
    {
        ArgumentNullException.ThrowIfNull(machine);
        ArgumentNullException.ThrowIfNull(stream);
        var output = new SectionWriter(stream, SnapshotKind.Ram);
        var w = new PayloadWriter();
        StateCodec.WriteDescription(machine, output, w);
        new RamCodec().Write(machine.Dram, output, includePage ?? (_ => true));
        output.Finish();
    }

    /// <summary>Writes the pages <see cref="SaveRam"/> wrote into RAM, leaving the others alone. The machine must
    /// not be running (paused, or not started). A stream that breaks off leaves the pages before the break written.</summary>
    public static void RestoreRam(VirtMachine machine, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(machine);
        ArgumentNullException.ThrowIfNull(stream);
        machine.WhilePaused(() =>
        {
            var input = Open(machine, stream, SnapshotKind.Ram);
            new RamCodec().Read(machine.Dram, input);
            input.Finish();
            return 0;
        });
    }

    private static SectionReader Open(VirtMachine machine, Stream stream, SnapshotKind kind)
    {
        var input = new SectionReader(stream);
        if (input.Kind != kind)
            throw new SnapshotException($"this is a snapshot of kind '{input.Kind}', not '{kind}' as expected here");
        StateCodec.CheckDescription(machine, input.Read(SectionTag.Description));
        return input;
    }

    /// <summary>Checks the file's trailing checksum over everything before it in one pass.</summary>
    private static void VerifyChecksum(FileStream file)
    {
        long length = file.Length;
        if (length < SnapshotFormat.HeaderSize + SnapshotFormat.FileTrailerSize)
        {
            new SectionReader(file); // says whether it is a snapshot at all
            throw new SnapshotException("snapshot is truncated");
        }
        var hash = new XxHash3();
        byte[] buffer = new byte[1 << 20];
        long left = length - SnapshotFormat.FileTrailerSize;
        while (left > 0)
        {
            int n = file.Read(buffer, 0, (int)Math.Min(buffer.Length, left));
            if (n <= 0) throw new SnapshotException("snapshot is truncated");
            hash.Append(buffer.AsSpan(0, n));
            left -= n;
        }
        Span<byte> trailer = stackalloc byte[SnapshotFormat.FileTrailerSize];
        file.ReadExactly(trailer);
        if (BinaryPrimitives.ReadUInt64LittleEndian(trailer) != hash.GetCurrentHashAsUInt64())
        {
            file.Position = 0;
            new SectionReader(file); // a foreign file or another version is reported as such, not as corrupt
            throw new SnapshotException("snapshot is corrupt or truncated (file checksum mismatch)");
        }
    }

    /// <summary>What the guest wrote is on the host's disk when the snapshot is taken.</summary>
    private static void FlushDisks(VirtMachine machine)
    {
        foreach (VirtioBlock disk in machine.Disks)
        {
            if (disk.ReadOnly) continue;
            try
            {
                disk.Disk.Flush();
            }
            catch (IOException e)
            {
                throw new SnapshotException($"cannot flush disk '{disk.Disk.Name}' for the snapshot: {e.Message}", e);
            }
        }
    }

    /// <summary>Makes the rename durable (POSIX: a rename is recorded in the directory, which has to be synced
    /// itself). Best effort: the previous file or the new one is intact either way.</summary>
    private static void SyncDirectory(string dir)
    {
        if (!OperatingSystem.IsLinux()) return;
        int fd = open(dir, 0); // O_RDONLY: enough to fsync a directory on Linux
        if (fd < 0) return;
        fsync(fd);
        close(fd);
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int open([System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string path, int flags);

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int fsync(int fd);

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int close(int fd);

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The temporary file is named so that nothing mistakes it for a snapshot.
        }
    }
}
