using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using Trapeze.Machine;
using Trapeze.Machine.Snapshot;

namespace Trapeze.Vmm;

/// <summary>
/// A bundle's snapshots, disks included, as QEMU's savevm keeps them: restoring one gives the guest its disks as
/// they were at the save, whatever it wrote afterwards.
/// <para>Layout: <c>snapshots/TAG/snapshot.json</c> (the manifest) names a generation directory
/// <c>snapshots/TAG/GEN/</c> holding <c>state.snap</c> (the machine: <see cref="MachineSnapshot"/>) and a copy of
/// each writable disk, <c>ID.disk</c>. A snapshot is a full, sparse copy rather than an external qcow2 overlay:
/// saving costs a read and write of the disks' data (the guest is paused meanwhile, as savevm pauses it), but
/// every snapshot stands alone — removing one never breaks another, the VM never runs on a chain of overlays
/// that grows with each save, and the bundle stays a plain directory that can be copied.</para>
/// <para>Crash safety: a save writes a new generation directory beside the old one, makes it durable, and only
/// then replaces the manifest (temporary file, fsync, rename, directory fsync). Killed at any moment, it leaves
/// the manifest naming either the previous generation, untouched, or the new one, complete. What a killed save
/// left behind (a partial generation, a temporary file) is removed by the next save of that tag.</para>
/// <para>Disks outside the bundle (<c>--disk FILE</c>) are the user's files, used where they are: a writable one
/// is refused for snapshots (its contents could not be put back), a read-only one is left out (it cannot change
/// under the guest).</para>
/// </summary>
public static class BundleSnapshots
{
    public const string ManifestFile = "snapshot.json", StateFile = "state.snap", DiskSuffix = ".disk";
    public const int FormatVersion = 1;

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
    };

    public static string TagDirectory(VmBundle bundle, string tag)
    {
        VmNames.CheckDeviceId(tag, "snapshot tag");
        return Path.Combine(bundle.SnapshotsDirectory, tag);
    }

    /// <summary>The bundle's writable drives, each of which a snapshot copies. A writable drive whose image lies
    /// outside the bundle is refused.</summary>
    public static IReadOnlyList<VmDrive> SnapshotDrives(VmBundle bundle)
    {
        var drives = new List<VmDrive>();
        foreach (VmDrive d in bundle.Definition.Drives)
        {
            if (d.ReadOnly) continue;
            string full = bundle.Resolve(d.Path);
            string relative = Path.GetRelativePath(bundle.Directory, full);
            if (Path.IsPathRooted(relative) || relative == ".." || relative.StartsWith("../", StringComparison.Ordinal))
                throw VmException.BadRequest($"{bundle.Name}: drive '{d.Id}' is the image '{full}', outside the VM's directory: " +
                    "a snapshot keeps copies of the VM's own disks only; make that drive read-only, or give the VM a disk of its own (create --disk size=...)");
            drives.Add(d);
        }
        return drives;
    }

    /// <summary>Saves <paramref name="machine"/> (the VM process's) and copies of its writable disks as
    /// <paramref name="tag"/>, replacing a snapshot of that tag only once the new one is complete. The machine is
    /// paused for the state and the disk copies, and goes on afterwards unless it was paused.</summary>
    public static SnapshotManifest Save(VmBundle bundle, VirtMachine machine, string tag)
    {
        IReadOnlyList<VmDrive> drives = SnapshotDrives(bundle);
        string dir = TagDirectory(bundle, tag);
        bool fresh = !Directory.Exists(dir);
        Directory.CreateDirectory(dir);
        if (fresh)
        {
            Native.SyncDirectory(bundle.SnapshotsDirectory);
            Native.SyncDirectory(bundle.Directory);
        }
        SnapshotManifest? previous = TryReadManifest(dir);
        RemoveLeftovers(dir, previous?.Generation);
        string generation = "g" + DateTime.UtcNow.ToString("yyyyMMdd'T'HHmmss", CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N")[..8];
        string genDir = Path.Combine(dir, generation);
        Directory.CreateDirectory(genDir);
        try
        {
            var disks = new List<SnapshotDisk>();
            bool wasPaused = machine.IsPaused;
            // One pause for the state and the disks: the copies are of the disks as the saved machine left them
            // (the state save flushes them first).
            machine.Pause();
            try
            {
                MachineSnapshots.Save(machine, Path.Combine(genDir, StateFile));
                foreach (VmDrive d in drives)
                {
                    string file = d.Id + DiskSuffix;
                    string copy = Path.Combine(genDir, file);
                    ulong hash;
                    try { hash = SparseFile.Copy(bundle.Resolve(d.Path), copy); }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                    {
                        throw VmException.BadRequest($"{bundle.Name}: cannot copy drive '{d.Id}' into snapshot '{tag}': {e.Message}");
                    }
                    disks.Add(new SnapshotDisk(d.Id, d.Path, file, new FileInfo(copy).Length, Hex(hash)));
                }
            }
            finally
            {
                if (!wasPaused) machine.Resume();
            }
            Native.SyncDirectory(genDir);
            var manifest = new SnapshotManifest(FormatVersion, generation, DateTimeOffset.UtcNow,
                new FileInfo(Path.Combine(genDir, StateFile)).Length, disks);
            WriteManifest(dir, manifest);
            if (previous != null) TryDeleteDirectory(Path.Combine(dir, previous.Generation));
            return manifest;
        }
        catch
        {
            // Unless the manifest names it already (then the failure came after the commit), it is nobody's.
            if (TryReadManifest(dir)?.Generation != generation) TryDeleteDirectory(genDir);
            throw;
        }
    }

    /// <summary>Checks snapshot <paramref name="tag"/> whole (the state's checksum, each disk copy's fingerprint),
    /// then puts its disk copies in place of the bundle's disks; returns the state file to restore the machine
    /// from. A snapshot that is missing, incomplete or altered is refused before any disk is touched.</summary>
    public static string PrepareRestore(VmBundle bundle, string tag)
    {
        string dir = TagDirectory(bundle, tag);
        SnapshotManifest manifest = ReadManifest(bundle, tag);
        string genDir = Path.Combine(dir, manifest.Generation);
        string state = Path.Combine(genDir, StateFile);
        string what = $"{bundle.Name}: snapshot '{tag}'";
        if (!File.Exists(state)) throw VmException.BadRequest($"{what} is incomplete: its machine state {state} is missing");
        try { MachineSnapshot.Verify(state); }
        catch (SnapshotException e) { throw VmException.BadRequest($"{what} cannot be restored: {e.Message}"); }

        IReadOnlyList<VmDrive> drives = SnapshotDrives(bundle);
        string Ids(IEnumerable<string> ids) => ids.Any() ? string.Join(", ", ids) : "none";
        if (!drives.Select(d => (d.Id, d.Path)).OrderBy(x => x.Id, StringComparer.Ordinal)
                .SequenceEqual(manifest.Disks.Select(d => (d.Id, d.Path)).OrderBy(x => x.Id, StringComparer.Ordinal)))
            throw VmException.BadRequest($"{what} was saved with other writable drives ({Ids(manifest.Disks.Select(d => $"{d.Id}={d.Path}"))}) " +
                $"than the VM has now ({Ids(drives.Select(d => $"{d.Id}={d.Path}"))})");

        // Copied beside each disk under a temporary name and checked, all of them, before any disk is replaced.
        // What a restore that was killed meanwhile left there goes first.
        foreach (string d in manifest.Disks.Select(x => Path.GetDirectoryName(bundle.Resolve(x.Path))!).Distinct())
        {
            if (!Directory.Exists(d)) continue;
            foreach (string leftover in Directory.EnumerateFiles(d, ".*.restore-*.tmp")) TryDelete(leftover);
        }
        var staged = new List<(string Temp, string Target)>();
        try
        {
            foreach (SnapshotDisk disk in manifest.Disks)
            {
                string copy = Path.Combine(genDir, disk.File);
                if (!File.Exists(copy)) throw VmException.BadRequest($"{what} is incomplete: its copy of drive '{disk.Id}' ({copy}) is missing");
                if (new FileInfo(copy).Length != disk.Bytes)
                    throw VmException.BadRequest($"{what}: its copy of drive '{disk.Id}' ({copy}) has been altered ({new FileInfo(copy).Length} bytes, saved as {disk.Bytes})");
                string target = bundle.Resolve(disk.Path);
                string temp = Path.Combine(Path.GetDirectoryName(target)!, $".{Path.GetFileName(target)}.restore-{Guid.NewGuid():N}.tmp");
                staged.Add((temp, target));
                ulong hash;
                try { hash = SparseFile.Copy(copy, temp); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    throw VmException.BadRequest($"{what}: cannot put drive '{disk.Id}' back: {e.Message}");
                }
                if (Hex(hash) != disk.Fingerprint)
                    throw VmException.BadRequest($"{what}: its copy of drive '{disk.Id}' ({copy}) has been altered (its contents differ from the saved fingerprint)");
            }
        }
        catch
        {
            foreach (var (temp, _) in staged) TryDelete(temp);
            throw;
        }
        foreach (var (temp, target) in staged) File.Move(temp, target, overwrite: true);
        foreach (string d in staged.Select(s => Path.GetDirectoryName(s.Target)!).Distinct()) Native.SyncDirectory(d);
        return state;
    }

    /// <summary>The snapshots of the bundle, by tag. A tag directory without a readable manifest (a first save
    /// that was killed) is not a snapshot.</summary>
    public static IReadOnlyList<VmSnapshotInfo> List(VmBundle bundle)
    {
        var list = new List<VmSnapshotInfo>();
        if (!Directory.Exists(bundle.SnapshotsDirectory)) return list;
        foreach (string dir in Directory.GetDirectories(bundle.SnapshotsDirectory).OrderBy(d => d, StringComparer.Ordinal))
        {
            string tag = Path.GetFileName(dir);
            if (!VmNames.IsValid(tag) || TryReadManifest(dir) is not { } m) continue;
            list.Add(new VmSnapshotInfo(tag, m.Created, m.StateBytes, m.Disks.Sum(d => d.Bytes), m.Disks.Select(d => d.Id).ToList()));
        }
        return list;
    }

    /// <summary>Removes snapshot <paramref name="tag"/>: the manifest first (from then on the snapshot is gone),
    /// then its files. Snapshots are independent copies, so no other snapshot and not the running VM depend on it.</summary>
    public static void Remove(VmBundle bundle, string tag)
    {
        string dir = TagDirectory(bundle, tag);
        ReadManifest(bundle, tag);
        File.Delete(Path.Combine(dir, ManifestFile));
        Native.SyncDirectory(dir);
        TryDeleteDirectory(dir);
    }

    public static SnapshotManifest ReadManifest(VmBundle bundle, string tag)
    {
        string dir = TagDirectory(bundle, tag);
        string path = Path.Combine(dir, ManifestFile);
        if (!File.Exists(path)) throw new VmException(VmErrorKind.NotFound, $"{bundle.Name} has no snapshot '{tag}' ({dir})");
        try { return Parse(File.ReadAllText(path)) ?? throw new JsonException("empty manifest"); }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException or NotSupportedException)
        {
            throw VmException.BadRequest($"{bundle.Name}: snapshot '{tag}' cannot be read ({path}: {e.Message})");
        }
    }

    private static SnapshotManifest? TryReadManifest(string dir)
    {
        try { return Parse(File.ReadAllText(Path.Combine(dir, ManifestFile))); }
        catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException or NotSupportedException) { return null; }
    }

    private static SnapshotManifest? Parse(string text)
    {
        SnapshotManifest? m = JsonSerializer.Deserialize<SnapshotManifest>(text, Json);
        if (m == null) return null;
        if (m.Version != FormatVersion) throw new JsonException($"snapshot format version {m.Version} is not {FormatVersion}");
        // Names from the manifest become paths: they must stay inside the snapshot.
        if (!VmNames.IsValid(m.Generation) || m.Disks == null || m.Disks.Any(d => d == null || !VmNames.IsValid(d.File) || !VmNames.IsValid(d.Id) || d.Path == null))
            throw new JsonException("the manifest names files outside the snapshot");
        return m;
    }

    private static void WriteManifest(string dir, SnapshotManifest manifest)
    {
        string path = Path.Combine(dir, ManifestFile);
        string temp = Path.Combine(dir, $".{ManifestFile}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var f = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                f.Write(JsonSerializer.SerializeToUtf8Bytes(manifest, Json));
                f.Flush(flushToDisk: true);
            }
            File.Move(temp, path, overwrite: true);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
        Native.SyncDirectory(dir);
    }

    /// <summary>Removes from a tag directory whatever is neither the manifest nor the generation it names: what
    /// saves that were killed or failed left behind.</summary>
    private static void RemoveLeftovers(string dir, string? keep)
    {
        foreach (string entry in Directory.EnumerateFileSystemEntries(dir))
        {
            string name = Path.GetFileName(entry);
            if (name == ManifestFile || name == keep) continue;
            if (Directory.Exists(entry)) TryDeleteDirectory(entry);
            else TryDelete(entry);
        }
    }

    private static string Hex(ulong value) => value.ToString("x16", CultureInfo.InvariantCulture);

    private static void TryDelete(string path)
    {
        try { File.Delete(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }

    private static void TryDeleteDirectory(string path)
    {
        try { Directory.Delete(path, recursive: true); }
        catch (DirectoryNotFoundException) { }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
    }
}

/// <summary>What <c>snapshot.json</c> holds: the generation directory in use, the machine state's size and, for
/// each writable drive, its copy with the fingerprint its contents had when saved.</summary>
public sealed record SnapshotManifest(int Version, string Generation, DateTimeOffset Created, long StateBytes, IReadOnlyList<SnapshotDisk> Disks);

/// <summary>A drive's copy in a snapshot: <paramref name="Path"/> as vm.json names the drive, <paramref name="File"/>
/// in the generation directory, its size and contents fingerprint (see <see cref="SparseFile"/>).</summary>
public sealed record SnapshotDisk(string Id, string Path, string File, long Bytes, string Fingerprint);

/// <summary>One line of <c>snapshot list</c>.</summary>
public sealed record VmSnapshotInfo(string Tag, DateTimeOffset Created, long StateBytes, long DiskBytes, IReadOnlyList<string> Drives);
