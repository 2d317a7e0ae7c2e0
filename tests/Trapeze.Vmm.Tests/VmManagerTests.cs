using System.Formats.Tar;
using Trapeze.Devices.Storage;

namespace Trapeze.Vmm.Tests;

/// <summary>The actions that need no running VM: create, configure, list, remove, export and import, and the
/// state a VM is reported in, derived from its lock.</summary>
public sealed class VmManagerTests : IDisposable
{
    private readonly TempHome _t = new();

    public void Dispose() => _t.Dispose();

    [Fact]
    public void Create_makes_a_self_contained_bundle()
    {
        _t.Manager.Execute(new VmAction.Create(_t.Request("a") with
        {
            Cpus = 2,
            Disks = [new VmDiskRequest(Size: 4UL << 30), new VmDiskRequest(Id: "scratch", Size: 1 << 20, Format: "raw")],
        }));
        VmBundle b = _t.Home.Open("a");
        Assert.Equal(Path.Combine(_t.Home.VmsDirectory, "a"), b.Directory);
        Assert.Equal("kernel", b.Definition.Kernel);
        Assert.Equal("initrd", b.Definition.Initrd);
        Assert.Equal([1, 2, 3, 4], File.ReadAllBytes(Path.Combine(b.Directory, "kernel")));
        Assert.Equal(["vda", "scratch"], b.Definition.Drives.Select(d => d.Id));
        Assert.Equal("vda.qcow2", b.Definition.Drives[0].Path);
        Assert.Equal(4UL << 30, DiskImages.Info(Path.Combine(b.Directory, "vda.qcow2")).VirtualSize);
        Assert.Equal("raw", DiskImages.Info(Path.Combine(b.Directory, "scratch.raw")).Format);
        var config = b.ToMachineConfig();
        Assert.Equal(2, config.Harts);
        Assert.Equal(256UL << 20, config.MemorySize);
        Assert.Equal(Path.Combine(b.Directory, "kernel"), config.KernelPath);
    }

    [Fact]
    public void A_copied_bundle_resolves_its_files_where_it_is()
    {
        _t.Manager.Execute(new VmAction.Create(_t.Request("a") with { Disks = [new VmDiskRequest(Size: 1 << 20)] }));
        var other = new VmHome(Path.Combine(_t.Root, "elsewhere"));
        string to = other.BundleDirectory("a");
        Directory.CreateDirectory(to);
        foreach (string f in Directory.GetFiles(_t.Home.BundleDirectory("a")))
            File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
        Directory.Delete(_t.Home.BundleDirectory("a"), true);
        var config = other.Open("a").ToMachineConfig();
        Assert.Equal(Path.Combine(to, "kernel"), config.KernelPath);
        Assert.Equal(Path.Combine(to, "vda.qcow2"), config.Disks[0].Path);
        Assert.True(File.Exists(config.Disks[0].Path));
    }

    [Fact]
    public void Create_refuses_bad_requests_and_leaves_nothing()
    {
        _t.Manager.Execute(new VmAction.Create(_t.Request("a")));
        AssertRefused(VmErrorKind.Conflict, "a VM named 'a' already exists", new VmAction.Create(_t.Request("a")));
        AssertRefused(VmErrorKind.BadRequest, "VM name 'a/b'", new VmAction.Create(_t.Request("a/b")));
        AssertRefused(VmErrorKind.BadRequest, "CPU count 65", new VmAction.Create(_t.Request("b") with { Cpus = 65 }));
        AssertRefused(VmErrorKind.BadRequest, "cannot read kernel", new VmAction.Create(_t.Request("b") with { Kernel = "/no/such/kernel" }));
        AssertRefused(VmErrorKind.BadRequest, "not a positive multiple of 512", new VmAction.Create(_t.Request("b") with { Disks = [new VmDiskRequest(Size: 1000)] }));
        AssertRefused(VmErrorKind.BadRequest, "cannot read '/no/disk'", new VmAction.Create(_t.Request("b") with { Disks = [new VmDiskRequest(Path: "/no/disk")] }));
        AssertRefused(VmErrorKind.BadRequest, "do not fit", new VmAction.Create(_t.Request("b") with
        {
            Disks = Enumerable.Range(0, 9).Select(_ => new VmDiskRequest(Size: 1 << 20)).ToList(),
        }));
        Assert.Equal(["a"], _t.Home.Names());
        Assert.Equal(["a"], Directory.GetFileSystemEntries(_t.Home.VmsDirectory).Select(Path.GetFileName));
    }

    [Fact]
    public void Unknown_vm_is_not_found()
    {
        foreach (VmAction a in new VmAction[]
        {
            new VmAction.Start("x"), new VmAction.Stop("x"), new VmAction.Kill("x"), new VmAction.Remove("x"),
            new VmAction.Describe("x"), new VmAction.Metrics("x"), new VmAction.ConfigureMachine("x", 2, null),
            new VmAction.Export("x", Path.Combine(_t.Root, "x.tar")), new VmAction.Snapshot("x", "t"),
        })
        {
            AssertRefused(VmErrorKind.NotFound, "no VM named 'x'", a);
        }
    }

    [Fact]
    public void Configure_changes_a_stopped_vm_and_refuses_bad_values()
    {
        _t.Manager.Execute(new VmAction.Create(_t.Request("a")));
        _t.Manager.Execute(new VmAction.ConfigureMachine("a", 3, 128));
        _t.Manager.Execute(new VmAction.ConfigureBoot("a", null, null, "console=ttyS0 x=1", null));
        _t.Manager.Execute(new VmAction.ConfigureDrive("a", new VmDiskRequest("data", Size: 2 << 20)));
        _t.Manager.Execute(new VmAction.ResizeDisk("a", "data", 4 << 20));
        VmDefinition d = _t.Home.Open("a").Definition;
        Assert.Equal((3, 128UL, "console=ttyS0 x=1"), (d.Cpus, d.MemoryMiB, d.Cmdline));
        Assert.Equal(4UL << 20, DiskImages.Info(Path.Combine(_t.Home.BundleDirectory("a"), "data.qcow2")).VirtualSize);
        AssertRefused(VmErrorKind.BadRequest, "CPU count 0", new VmAction.ConfigureMachine("a", 0, null));
        Assert.Equal(3, _t.Home.Open("a").Definition.Cpus);
    }

    [Fact]
    public void State_comes_from_the_lock_not_the_pid_file()
    {
        _t.Manager.Execute(new VmAction.Create(_t.Request("a")));
        VmBundle b = _t.Home.Open("a");
        Assert.Equal(VmStatus.Stopped, VmManager.Status(b).State);
        // A pid file nobody's lock stands behind: the VM process died without cleaning up.
        File.WriteAllText(b.PidPath, "999999\n");
        Assert.Equal(VmStatus.Crashed, VmManager.Status(b).State);
        using (ProcessLock.TryAcquire(b.LockPath))
        {
            Assert.Equal(VmStatus.Running, VmManager.Status(b).State);
            AssertRefused(VmErrorKind.Conflict, "is already running", new VmAction.Start("a"));
            AssertRefused(VmErrorKind.Conflict, "while it runs", new VmAction.ConfigureMachine("a", 2, null));
            AssertRefused(VmErrorKind.Conflict, "is running", new VmAction.Remove("a"));
            AssertRefused(VmErrorKind.Conflict, "while it runs", new VmAction.Export("a", Path.Combine(_t.Root, "a.tar")));
        }
        Assert.Equal(VmStatus.Crashed, VmManager.Status(b).State);
        AssertRefused(VmErrorKind.Conflict, "is not running", new VmAction.Stop("a"));
    }

    [Theory]
    [InlineData("a.tar")]
    [InlineData("a.tar.gz")]
    public void Export_and_import_round_trip(string file)
    {
        _t.Manager.Execute(new VmAction.Create(_t.Request("a") with { Disks = [new VmDiskRequest(Size: 1 << 20)] }));
        string bundle = _t.Home.BundleDirectory("a");
        File.WriteAllText(Path.Combine(bundle, "console.log"), "runtime file, not exported");
        string archive = Path.Combine(_t.Root, file);
        _t.Manager.Execute(new VmAction.Export("a", archive));
        AssertRefused(VmErrorKind.Conflict, "exists already", new VmAction.Export("a", archive));
        AssertRefused(VmErrorKind.Conflict, "a VM named 'a' already exists", new VmAction.Import(archive));

        _t.Manager.Execute(new VmAction.Import(archive, "b"));
        VmBundle b = _t.Home.Open("b");
        Assert.Equal("b", b.Definition.Name);
        Assert.Equal(File.ReadAllBytes(Path.Combine(bundle, "vda.qcow2")), File.ReadAllBytes(Path.Combine(b.Directory, "vda.qcow2")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(bundle, "kernel")), File.ReadAllBytes(Path.Combine(b.Directory, "kernel")));
        Assert.False(File.Exists(Path.Combine(b.Directory, "console.log")));
        Assert.Equal(["a", "b"], _t.Home.Names());
    }

    [Fact]
    public void Import_refuses_entries_outside_the_bundle()
    {
        string archive = Path.Combine(_t.Root, "evil.tar");
        using (var f = File.Create(archive))
        using (var tar = new TarWriter(f))
        {
            var vmJson = new PaxTarEntry(TarEntryType.RegularFile, "a/vm.json")
            {
                DataStream = new MemoryStream("""{"version": 1, "name": "a"}"""u8.ToArray()),
            };
            tar.WriteEntry(vmJson);
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "a/../../escape") { DataStream = new MemoryStream([1]) });
        }
        AssertRefused(VmErrorKind.BadRequest, "is not a plain relative path", new VmAction.Import(archive));
        Assert.False(File.Exists(Path.Combine(_t.Home.Root, "escape")));
        Assert.Empty(_t.Home.Names());

        string links = Path.Combine(_t.Root, "link.tar");
        using (var f = File.Create(links))
        using (var tar = new TarWriter(f))
            tar.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "a/vm.json") { LinkName = "/etc/passwd" });
        AssertRefused(VmErrorKind.BadRequest, "not a file or directory", new VmAction.Import(links));
    }

    [Fact]
    public void Remove_deletes_the_bundle()
    {
        _t.Manager.Execute(new VmAction.Create(_t.Request("a")));
        _t.Manager.Execute(new VmAction.Remove("a"));
        Assert.Empty(_t.Home.Names());
        Assert.False(Directory.Exists(_t.Home.BundleDirectory("a")));
    }

    [Fact]
    public void Snapshots_need_a_running_vm_to_save_and_a_file_to_restore()
    {
        _t.Manager.Execute(new VmAction.Create(_t.Request("a")));
        AssertRefused(VmErrorKind.Conflict, "a is not running", new VmAction.Snapshot("a", "t"));
        AssertRefused(VmErrorKind.Conflict, "a is not running", new VmAction.Pause("a"));
        AssertRefused(VmErrorKind.NotFound, "a has no snapshot 't'", new VmAction.Restore("a", "t"));
        AssertRefused(VmErrorKind.BadRequest, "snapshot tag '../t'", new VmAction.Restore("a", "../t"));
    }

    private void AssertRefused(VmErrorKind kind, string message, VmAction action)
    {
        var e = Assert.Throws<VmException>(() => _t.Manager.Execute(action));
        Assert.Equal(kind, e.Kind);
        Assert.Contains(message, e.Message);
    }
}
