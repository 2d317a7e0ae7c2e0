using System.Text.Json;

namespace Trapeze.Vmm.Tests;

/// <summary>Bundle snapshots as far as they need no running VM: listing, removing, and the refusals of a restore
/// that would not give the guest its disks as they were. (Saving needs a machine: see the integration tests.)</summary>
public sealed class BundleSnapshotsTests : IDisposable
{
    private readonly TempHome _t = new();

    public void Dispose() => _t.Dispose();

    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    /// <summary>A snapshot directory as a save leaves it, with a stand-in state file.</summary>
    private string Fake(VmBundle bundle, string tag, IReadOnlyList<SnapshotDisk> disks)
    {
        string dir = Path.Combine(bundle.SnapshotsDirectory, tag);
        string gen = Path.Combine(dir, "g1");
        Directory.CreateDirectory(gen);
        File.WriteAllBytes(Path.Combine(gen, BundleSnapshots.StateFile), new byte[64]);
        File.WriteAllBytes(Path.Combine(dir, BundleSnapshots.ManifestFile),
            JsonSerializer.SerializeToUtf8Bytes(new SnapshotManifest(1, "g1", DateTimeOffset.UtcNow, 64, disks), Json));
        return gen;
    }

    private static string Refusal(Action a) => Assert.Throws<VmException>(a).Message;

    [Fact]
    public void Snapshots_are_listed_and_removed_by_tag()
    {
        _t.Manager.Execute(new VmAction.Create(_t.Request("a") with { Disks = [new VmDiskRequest(Size: 1 << 20)] }));
        VmBundle b = _t.Home.Open("a");
        Assert.Empty(_t.Manager.Execute(new VmAction.ListSnapshots("a")).Snapshots!);
        Fake(b, "t1", [new SnapshotDisk("vda", "vda.qcow2", "vda.disk", 10, "00")]);
        Fake(b, "t2", []);
        // A first save that was killed leaves a tag directory without a manifest: not a snapshot.
        Directory.CreateDirectory(Path.Combine(b.SnapshotsDirectory, "t3", "g2"));
        var list = _t.Manager.Execute(new VmAction.ListSnapshots("a")).Snapshots!;
        Assert.Equal(["t1", "t2"], list.Select(s => s.Tag));
        Assert.Equal(["vda"], list[0].Drives);
        Assert.Equal(64, list[0].StateBytes);

        _t.Manager.Execute(new VmAction.RemoveSnapshot("a", "t1"));
        Assert.False(Directory.Exists(Path.Combine(b.SnapshotsDirectory, "t1")));
        Assert.Equal(["t2"], _t.Manager.Execute(new VmAction.ListSnapshots("a")).Snapshots!.Select(s => s.Tag));
        var e = Assert.Throws<VmException>(() => _t.Manager.Execute(new VmAction.RemoveSnapshot("a", "t1")));
        Assert.Equal(VmErrorKind.NotFound, e.Kind);
        Assert.Contains("a has no snapshot 't3'", Refusal(() => _t.Manager.Execute(new VmAction.Restore("a", "t3"))));
    }

    [Fact]
    public void A_restore_that_could_not_give_back_the_disks_is_refused_before_touching_them()
    {
        _t.Manager.Execute(new VmAction.Create(_t.Request("a") with { Disks = [new VmDiskRequest(Size: 1 << 20)] }));
        VmBundle b = _t.Home.Open("a");
        byte[] disk = File.ReadAllBytes(Path.Combine(b.Directory, "vda.qcow2"));

        // The state file is not a snapshot: refused with the reason.
        Fake(b, "bad-state", [new SnapshotDisk("vda", "vda.qcow2", "vda.disk", 10, "00")]);
        Assert.Contains("snapshot 'bad-state' cannot be restored", Refusal(() => BundleSnapshots.PrepareRestore(b, "bad-state")));

        // A manifest naming files outside its snapshot is not read at all.
        string dir = Path.Combine(b.SnapshotsDirectory, "evil");
        Directory.CreateDirectory(dir);
        File.WriteAllBytes(Path.Combine(dir, BundleSnapshots.ManifestFile),
            JsonSerializer.SerializeToUtf8Bytes(new SnapshotManifest(1, "..", DateTimeOffset.UtcNow, 64, []), Json));
        Assert.Contains("cannot be read", Refusal(() => BundleSnapshots.PrepareRestore(b, "evil")));
        Assert.Equal(disk, File.ReadAllBytes(Path.Combine(b.Directory, "vda.qcow2")));
        Assert.Empty(Directory.EnumerateFiles(b.Directory, "*.tmp"));
    }

    [Fact]
    public void A_writable_drive_outside_the_bundle_is_refused_and_a_read_only_one_left_out()
    {
        string outside = Path.Combine(_t.Root, "outside.raw");
        File.WriteAllBytes(outside, new byte[4096]);
        _t.Manager.Execute(new VmAction.Create(_t.Request("a") with { Disks = [new VmDiskRequest(Path: outside)] }));
        Assert.Contains("outside the VM's directory", Refusal(() => BundleSnapshots.SnapshotDrives(_t.Home.Open("a"))));
        _t.Manager.Execute(new VmAction.Create(_t.Request("b") with
        {
            Disks = [new VmDiskRequest(Path: outside, ReadOnly: true), new VmDiskRequest(Size: 1 << 20)],
        }));
        Assert.Equal(["vdb"], BundleSnapshots.SnapshotDrives(_t.Home.Open("b")).Select(d => d.Id));
    }
}
