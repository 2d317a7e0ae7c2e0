using System.Diagnostics;
using System.Text.Json;
using Trapeze.Devices.Storage;
using Trapeze.Machine;

namespace Trapeze.Vmm;

/// <summary>
/// Carries out <see cref="VmAction"/>s on the bundles under a <see cref="VmHome"/>. Used in-process by the
/// CLI when no daemon runs, and by the daemon for its REST API: either way one implementation per action.
/// A running VM is a VM process holding its bundle's lock; this class starts those processes and talks to
/// them through their <c>api.sock</c>.
/// </summary>
public sealed class VmManager : IVmActionExecutor
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    public VmManager(VmHome home, VmProcessLauncher? launcher = null)
    {
        Home = home;
        Launcher = launcher;
    }

    public VmHome Home { get; }
    public VmProcessLauncher? Launcher { get; }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, object> _locks = new(StringComparer.Ordinal);

    /// <summary>Carries out <paramref name="action"/>. Actions that change a VM run one at a time per VM (the
    /// daemon takes requests concurrently): a start cannot overtake a stop, nor two creates meet.</summary>
    public VmResult Execute(VmAction action)
    {
        if (action.IsQuery || action.Target is not { } name) return Carry(action);
        lock (_locks.GetOrAdd(name, _ => new object())) return Carry(action);
    }

    private VmResult Carry(VmAction action) => action switch
    {
        VmAction.Create a => Create(a.Request),
        VmAction.Start a => Start(a.Name),
        VmAction.Stop a => Stop(a.Name, a.Timeout),
        VmAction.Kill a => Kill(a.Name),
        VmAction.RequestPowerOff a => RequestPowerOff(a.Name),
        VmAction.Pause a => SetPaused(a.Name, true),
        VmAction.Resume a => SetPaused(a.Name, false),
        VmAction.Snapshot a => Snapshot(a.Name, a.Tag),
        VmAction.Restore a => Restore(a.Name, a.Tag),
        VmAction.ListSnapshots a => new VmResult(Snapshots: BundleSnapshots.List(Home.Open(a.Name))),
        VmAction.RemoveSnapshot a => RemoveSnapshot(a.Name, a.Tag),
        VmAction.ResizeDisk a => ResizeDisk(a),
        VmAction.Remove a => Remove(a.Name, a.Force),
        VmAction.ConfigureMachine a => Configure(a.Name, d => d with { Cpus = a.Cpus ?? d.Cpus, MemoryMiB = a.MemoryMiB ?? d.MemoryMiB }),
        VmAction.ConfigureBoot a => ConfigureBoot(a),
        VmAction.ConfigureDrive a => ConfigureDrive(a.Name, a.Drive),
        VmAction.ConfigureNetworkInterface a => Configure(a.Name, d => d with
        {
            NetworkInterfaces = [.. d.NetworkInterfaces.Where(n => n.Id != a.Interface.Id), a.Interface],
        }),
        VmAction.Export a => VmArchive.Export(OpenStopped(a.Name, "export"), a.File),
        VmAction.Import a => VmArchive.Import(Home, a.File, a.Name),
        VmAction.List => new VmResult(Vms: Home.Names().Select(ListStatus).ToList()),
        VmAction.Describe a => new VmResult(Vms: [Status(Home.Open(a.Name))]),
        VmAction.Metrics a => new VmResult(Json: WithClient(OpenRunning(a.Name), c => c.Metrics())),
        VmAction.Migrate a => Migrate(a.Name, a.Destination),
        VmAction.Receive a => Receive(a.Name, a.Listen, a.Timeout ?? DefaultReceiveTimeout),
        _ => throw new InvalidOperationException($"action {action.GetType().Name} has no implementation"),
    };

    // ---------------------------------------------------------------- create and configure

    private VmResult Create(VmCreateRequest r)
    {
        VmNames.Check(r.Name);
        string final = Home.BundleDirectory(r.Name);
        if (Directory.Exists(final)) throw VmException.Conflict($"a VM named '{r.Name}' already exists ({final})");
        CheckMachine(r.Cpus, r.MemoryMiB);
        Directory.CreateDirectory(Home.VmsDirectory);
        // Built beside its final place and renamed in: a failed create leaves nothing behind.
        string temp = Path.Combine(Home.VmsDirectory, $".creating-{r.Name}-{Environment.ProcessId}");
        if (Directory.Exists(temp)) Directory.Delete(temp, true);
        Directory.CreateDirectory(temp);
        try
        {
            var d = new VmDefinition
            {
                Name = r.Name,
                Cpus = r.Cpus,
                MemoryMiB = r.MemoryMiB,
                Cmdline = r.Cmdline,
                Devices = r.Devices,
                Console = r.Console,
                Jit = r.Jit,
                GcHeapLimitMiB = r.GcHeapLimitMiB,
                StopTimeoutSeconds = r.StopTimeoutSeconds,
                NetworkInterfaces = r.NetworkInterfaces,
                Firmware = r.Firmware is VmDefinition.FirmwareOpenSbi or VmDefinition.FirmwareBuiltin or VmDefinition.FirmwareNone
                    ? r.Firmware : CopyIn(r.Firmware, temp, "firmware", "firmware"),
                Kernel = r.Kernel != null ? CopyIn(r.Kernel, temp, "kernel", "kernel") : null,
                Initrd = r.Initrd != null ? CopyIn(r.Initrd, temp, "initrd", "initrd") : null,
            };
            var drives = new List<VmDrive>();
            foreach (VmDiskRequest disk in r.Disks) drives.Add(MakeDrive(temp, disk, drives));
            d = d with { Drives = drives };
            var bundle = VmBundle.Create(temp, d);
            CheckConfig(bundle);
            try { Directory.Move(temp, final); }
            catch (IOException) when (Directory.Exists(final))
            {
                throw VmException.Conflict($"a VM named '{r.Name}' already exists ({final})");
            }
            return new VmResult(Message: $"created {r.Name} in {final}");
        }
        catch
        {
            try { Directory.Delete(temp, true); }
            catch (IOException) { }
            throw;
        }
    }

    private static void CheckMachine(int? cpus, ulong? memoryMiB)
    {
        if (cpus is { } c && (c < 1 || c > MachineConfig.MaxHarts))
            throw VmException.BadRequest($"CPU count {c} is outside 1..{MachineConfig.MaxHarts}");
        if (memoryMiB is { } m && (m < 1 || m > 1 << 20))
            throw VmException.BadRequest($"memory {m} MiB is outside 1 MiB..1 TiB");
    }

    /// <summary>Copies a boot image into the bundle so that the bundle carries everything it boots.</summary>
    private static string CopyIn(string source, string bundleDir, string what, string name)
    {
        string full = Path.GetFullPath(source);
        if (!File.Exists(full)) throw VmException.BadRequest($"cannot read {what} '{source}': no such file");
        try { File.Copy(full, Path.Combine(bundleDir, name)); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw VmException.BadRequest($"cannot copy {what} '{source}': {e.Message}");
        }
        return name;
    }

    private static VmDrive MakeDrive(string bundleDir, VmDiskRequest disk, IReadOnlyList<VmDrive> existing)
    {
        string id = disk.Id ?? NextDriveId(existing);
        VmNames.CheckDeviceId(id, "drive id");
        if (existing.Any(x => x.Id == id)) throw VmException.BadRequest($"drive id '{id}' is used twice");
        if (disk.Format is not (null or DiskImages.Raw or DiskImages.Qcow2))
            throw VmException.BadRequest($"disk format '{disk.Format}' is not supported (raw, qcow2)");
        if (disk.Size is { } size)
        {
            if (disk.Path != null) throw VmException.BadRequest($"drive '{id}': give a size for a new disk or a path to an existing one, not both");
            string format = disk.Format ?? DiskImages.Qcow2;
            if (size == 0 || size % 512 != 0) throw VmException.BadRequest($"drive '{id}': size {size} is not a positive multiple of 512 bytes");
            string file = $"{id}.{format}";
            try { DiskImages.Create(Path.Combine(bundleDir, file), format, size); }
            catch (DiskImageException e) { throw VmException.BadRequest($"drive '{id}': {e.Message}"); }
            return new VmDrive(id, file, format, disk.ReadOnly, disk.Serial);
        }
        if (disk.Path == null) throw VmException.BadRequest($"drive '{id}': needs a size (new disk) or a path (existing image)");
        string path = Path.GetFullPath(disk.Path);
        if (!File.Exists(path)) throw VmException.BadRequest($"drive '{id}': cannot read '{disk.Path}': no such file");
        return new VmDrive(id, path, disk.Format, disk.ReadOnly, disk.Serial);
    }

    private static string NextDriveId(IReadOnlyList<VmDrive> existing)
    {
        for (int n = 0; ; n++)
        {
            string id = "vd" + (char)('a' + n % 26) + (n >= 26 ? (n / 26).ToString(System.Globalization.CultureInfo.InvariantCulture) : "");
            if (existing.All(x => x.Id != id)) return id;
        }
    }

    /// <summary>A configuration the machine would refuse is refused now, not when it starts.</summary>
    private static void CheckConfig(VmBundle bundle)
    {
        try { bundle.ToMachineConfig(); }
        catch (MachineConfigException e) { throw VmException.BadRequest(e.Message); }
    }

    private VmResult Configure(string name, Func<VmDefinition, VmDefinition> change)
    {
        VmBundle bundle = OpenStopped(name, "configure");
        VmDefinition before = bundle.Definition;
        VmDefinition after = change(before);
        CheckMachine(after.Cpus, after.MemoryMiB);
        bundle.Save(after);
        try { CheckConfig(bundle); }
        catch
        {
            bundle.Save(before);
            throw;
        }
        return VmResult.Done;
    }

    private VmResult ConfigureBoot(VmAction.ConfigureBoot a)
    {
        VmBundle bundle = OpenStopped(a.Name, "configure");
        string dir = bundle.Directory;
        // New images replace the bundle's copies under temporary names first, so a bad one changes nothing.
        string? kernel = a.Kernel != null ? Replace(a.Kernel, dir, "kernel") : null;
        string? initrd = a.Initrd != null ? Replace(a.Initrd, dir, "initrd") : null;
        string? firmware = a.Firmware is null or VmDefinition.FirmwareOpenSbi or VmDefinition.FirmwareBuiltin or VmDefinition.FirmwareNone
            ? a.Firmware : Replace(a.Firmware, dir, "firmware");
        return Configure(a.Name, d => d with
        {
            Kernel = kernel ?? d.Kernel,
            Initrd = initrd ?? d.Initrd,
            Cmdline = a.Cmdline ?? d.Cmdline,
            Firmware = firmware ?? d.Firmware,
        });
    }

    private static string Replace(string source, string dir, string name)
    {
        string temp = CopyIn(source, dir, name, name + ".new");
        File.Move(Path.Combine(dir, temp), Path.Combine(dir, name), overwrite: true);
        return name;
    }

    private VmResult ConfigureDrive(string name, VmDiskRequest drive)
    {
        VmBundle bundle = OpenStopped(name, "configure");
        string id = drive.Id ?? throw VmException.BadRequest("drive: no id");
        var others = bundle.Definition.Drives.Where(x => x.Id != id).ToList();
        VmDrive made = MakeDrive(bundle.Directory, drive, others);
        var drives = bundle.Definition.Drives.Select(x => x.Id == id ? made : x).ToList();
        if (drives.All(x => x.Id != id)) drives.Add(made);
        return Configure(name, d => d with { Drives = drives });
    }

    private VmResult ResizeDisk(VmAction.ResizeDisk a)
    {
        VmBundle bundle = OpenStopped(a.Name, "resize a disk of");
        VmDrive drive = bundle.Definition.Drives.FirstOrDefault(x => x.Id == a.DriveId)
            ?? throw new VmException(VmErrorKind.NotFound, $"{a.Name} has no drive '{a.DriveId}'");
        try
        {
            ulong size = DiskImages.Resize(bundle.Resolve(drive.Path), a.Size, relative: false, new DiskOpenOptions(drive.Format));
            return new VmResult(Message: $"{a.Name}: drive {drive.Id} is {size} bytes");
        }
        catch (DiskImageException e) { throw VmException.BadRequest(e.Message); }
    }

    // ---------------------------------------------------------------- running

    private VmResult Start(string name) => StartProcess(Home.Open(name), restoreFrom: null);

    /// <summary>How long a snapshot may take: it copies the disks' data, which can be gigabytes.</summary>
    private static readonly TimeSpan SnapshotTimeout = TimeSpan.FromMinutes(30);

    private VmResult Snapshot(string name, string tag)
    {
        VmBundle bundle = Home.Open(name);
        string dir = BundleSnapshots.TagDirectory(bundle, tag);
        // Refused here already, before the VM process pauses anything (and whether it runs or not).
        BundleSnapshots.SnapshotDrives(bundle);
        if (!bundle.IsLocked()) throw VmException.Conflict($"{name} is not running");
        Directory.CreateDirectory(bundle.SnapshotsDirectory);
        using (var client = new VmProcessClient(bundle.ApiSocket, SnapshotTimeout))
        {
            try { client.SaveBundleSnapshot(tag); }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                throw VmException.Conflict($"{bundle.Name}: its VM process does not answer ({e.Message})");
            }
        }
        return new VmResult(Message: $"saved {name} as {dir}");
    }

    private VmResult Restore(string name, string tag)
    {
        VmBundle bundle = OpenStopped(name, "restore");
        string state = BundleSnapshots.PrepareRestore(bundle, tag);
        return StartProcess(bundle, state);
    }

    private VmResult RemoveSnapshot(string name, string tag)
    {
        VmBundle bundle = Home.Open(name);
        BundleSnapshots.Remove(bundle, tag);
        return new VmResult(Message: $"removed snapshot '{tag}' of {name}");
    }

    private VmResult StartProcess(VmBundle bundle, string? restoreFrom)
    {
        string name = bundle.Name;
        if (bundle.IsLocked()) throw VmException.Conflict($"{name} is already running");
        if (MigratedTo(bundle) is { } where)
            throw VmException.Conflict($"{name} was migrated to {where} and runs there; this copy is not started (remove it with 'trapeze rm {name}')");
        // sun_path holds 108 bytes with its NUL: a deeper bundle cannot have its sockets.
        if (System.Text.Encoding.UTF8.GetByteCount(bundle.ConsoleSocket) > 107)
            throw VmException.BadRequest($"{name}: the bundle's path is too long for its Unix sockets ({bundle.ConsoleSocket}); use a shorter $TRAPEZE_HOME");
        MachineConfig config;
        try { config = bundle.ToMachineConfig(); }
        catch (MachineConfigException e) { throw VmException.BadRequest($"{name}: {e.Message}"); }
        foreach (string? file in new[] { config.KernelPath, config.InitrdPath, config.FirmwarePath ?? (config.Firmware == FirmwareKind.File ? MachineConfig.DebianOpenSbi : null) })
            if (file != null && !File.Exists(file)) throw VmException.BadRequest($"{name}: cannot read '{file}': no such file");
        if (config.KernelPath == null && config.Firmware == FirmwareKind.Builtin)
            throw VmException.BadRequest($"{name}: the built-in SBI needs a kernel (set one with boot-source)");
        foreach (string f in new[] { bundle.ExitPath, bundle.ProcessLog }) File.Delete(f);
        bundle.RemoveRuntimeLeftovers();
        VmProcessLauncher launcher = Launcher ?? throw new InvalidOperationException("this VmManager cannot start VM processes");
        using Process process = launcher.Launch(bundle, restoreFrom);
        var deadline = Stopwatch.StartNew();
        using var client = new VmProcessClient(bundle.ApiSocket, TimeSpan.FromSeconds(2));
        while (true)
        {
            if (File.Exists(bundle.ApiSocket) && client.TryGetState() != null)
                return new VmResult(Message: $"{(restoreFrom != null ? "restored" : "started")} {name} (pid {process.Id})");
            if (process.HasExited)
            {
                throw VmException.BadRequest($"{name} did not start: {LastError(bundle)}");
            }
            if (deadline.Elapsed > StartTimeout)
            {
                process.Kill();
                throw VmException.Conflict($"{name} did not start within {StartTimeout.TotalSeconds} s; see {bundle.ProcessLog}");
            }
            Thread.Sleep(50);
        }
    }

    /// <summary>The VM process's last words: its one-line error, as the CLI would print it.</summary>
    private static string LastError(VmBundle bundle) => LastError(bundle.ProcessLog);

    private static string LastError(string processLog)
    {
        try
        {
            string? last = File.ReadLines(processLog).LastOrDefault(l => l.Trim().Length > 0);
            if (last == null) return "the VM process exited without a message";
            return last.StartsWith("trapeze: ", StringComparison.Ordinal) ? last["trapeze: ".Length..] : last;
        }
        catch (IOException) { return "the VM process exited without a message"; }
    }

    private VmResult RequestPowerOff(string name)
    {
        VmBundle bundle = OpenRunning(name);
        WithClient(bundle, c => { c.Action(VmProcessActions.PowerOffRequest); return ""; });
        return new VmResult(Message: $"asked {name} to power off");
    }

    private VmResult Stop(string name, TimeSpan? timeout)
    {
        VmBundle bundle = OpenRunning(name);
        TimeSpan wait = timeout ?? TimeSpan.FromSeconds(bundle.Definition.StopTimeoutSeconds);
        using (var client = new VmProcessClient(bundle.ApiSocket, TimeSpan.FromSeconds(5)))
        {
            try { client.Action(VmProcessActions.PowerOffRequest); }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or VmException) { }
            if (WaitUnlocked(bundle, wait)) return new VmResult(Message: $"stopped {name} (the guest powered off)");
            // The guest did not react: power off from outside, then take the process down if even that fails.
            try { client.Action(VmProcessActions.ForceOff); }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException or VmException) { }
        }
        if (!WaitUnlocked(bundle, TimeSpan.FromSeconds(5))) KillProcess(bundle);
        return new VmResult(Message: $"stopped {name} (forced after {wait.TotalSeconds:0} s)");
    }

    private VmResult Kill(string name)
    {
        VmBundle bundle = OpenRunning(name);
        KillProcess(bundle);
        return new VmResult(Message: $"killed {name}");
    }

    private static void KillProcess(VmBundle bundle)
    {
        if (bundle.ReadPid() is { } pid)
        {
            try
            {
                using var p = Process.GetProcessById(pid);
                p.Kill();
            }
            catch (ArgumentException) { }
            catch (InvalidOperationException) { }
        }
        if (!WaitUnlocked(bundle, TimeSpan.FromSeconds(10)))
            throw VmException.Conflict($"{bundle.Name}: the VM process (pid {bundle.ReadPid()}) did not exit");
        bundle.RemoveRuntimeLeftovers();
        File.WriteAllText(bundle.ExitPath, JsonSerializer.Serialize(new Dictionary<string, object> { ["reason"] = "killed", ["time"] = DateTimeOffset.UtcNow }));
    }

    private static bool WaitUnlocked(VmBundle bundle, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (bundle.IsLocked())
        {
            if (sw.Elapsed >= timeout) return false;
            Thread.Sleep(50);
        }
        return true;
    }

    private VmResult SetPaused(string name, bool paused)
    {
        VmBundle bundle = OpenRunning(name);
        WithClient(bundle, c => c.PatchVm(paused ? "Paused" : "Resumed"));
        return new VmResult(Message: $"{(paused ? "paused" : "resumed")} {name}");
    }

    private VmResult Remove(string name, bool force)
    {
        if (IsIncoming(name)) return RemoveIncoming(name, force);
        VmBundle bundle = Home.Open(name);
        if (bundle.IsLocked())
        {
            if (!force) throw VmException.Conflict($"{name} is running (stop it first, or remove it with --force)");
            KillProcess(bundle);
        }
        Directory.Delete(bundle.Directory, recursive: true);
        return new VmResult(Message: $"removed {name}");
    }

    // ---------------------------------------------------------------- live migration

    private static readonly TimeSpan DefaultReceiveTimeout = TimeSpan.FromMinutes(10);

    /// <summary>A migration of a guest with much RAM over a slow link takes long; the VM process bounds each wait itself.</summary>
    private static readonly TimeSpan MigrateTimeout = TimeSpan.FromMinutes(30);

    private VmResult Migrate(string name, string destination)
    {
        VmBundle bundle = OpenRunning(name);
        BundleTransfer.ParseAddress(destination, "destination");
        string json;
        using (var client = new VmProcessClient(bundle.ApiSocket, MigrateTimeout))
        {
            try { json = client.Migrate(destination); }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                throw VmException.Conflict($"{name}: its VM process does not answer ({e.Message})");
            }
        }
        // The source VM process powers off once it has answered: list shows the VM migrated from now on.
        if (!WaitUnlocked(bundle, TimeSpan.FromSeconds(30))) KillProcess(bundle);
        string summary;
        using (var doc = JsonDocument.Parse(json)) summary = doc.RootElement.GetProperty("summary").GetString() ?? "";
        return new VmResult(Message: $"migrated {name} to {destination}; {summary}");
    }

    private VmResult Receive(string name, string listen, TimeSpan timeout)
    {
        VmNames.Check(name);
        BundleTransfer.ParseAddress(listen, "listen address");
        string dir = Home.BundleDirectory(name);
        if (Directory.Exists(dir)) throw VmException.Conflict($"a VM named '{name}' already exists ({dir})");
        if (System.Text.Encoding.UTF8.GetByteCount(Path.Combine(dir, "console.sock")) > 107)
            throw VmException.BadRequest($"{name}: the bundle's path is too long for its Unix sockets ({dir}); use a shorter $TRAPEZE_HOME");
        VmProcessLauncher launcher = Launcher ?? throw new InvalidOperationException("this VmManager cannot start VM processes");
        Directory.CreateDirectory(dir);
        string pidPath = Path.Combine(dir, "vm.pid"), log = Path.Combine(dir, "vm-process.log");
        using Process process = launcher.LaunchIncoming(dir, listen, timeout);
        var deadline = Stopwatch.StartNew();
        // The VM process writes vm.pid once it listens: from then on a source can connect.
        while (!File.Exists(pidPath))
        {
            if (process.HasExited)
            {
                string why = LastError(log);
                try { Directory.Delete(dir, true); }
                catch (IOException) { }
                throw VmException.BadRequest($"{name} cannot receive: {why}");
            }
            if (deadline.Elapsed > StartTimeout)
            {
                process.Kill();
                throw VmException.Conflict($"{name} did not start listening within {StartTimeout.TotalSeconds} s; see {log}");
            }
            Thread.Sleep(50);
        }
        return new VmResult(Message: $"{name} waits for a migration on {listen} (pid {process.Id})");
    }

    /// <summary>A VM process waits for a migration in this directory (it has no vm.json before the migration arrives).</summary>
    private bool IsIncoming(string name)
    {
        string dir = Home.BundleDirectory(name);
        return !File.Exists(Path.Combine(dir, VmBundle.DefinitionFile)) && File.Exists(Path.Combine(dir, "vm.lock"));
    }

    private VmResult RemoveIncoming(string name, bool force)
    {
        string dir = Home.BundleDirectory(name);
        string lockPath = Path.Combine(dir, "vm.lock");
        if (ProcessLock.IsHeld(lockPath))
        {
            if (!force) throw VmException.Conflict($"{name} waits for a migration (remove it with --force)");
            try
            {
                if (int.TryParse(File.ReadAllText(Path.Combine(dir, "vm.pid")).Trim(), out int pid))
                {
                    using var p = Process.GetProcessById(pid);
                    p.Kill();
                }
            }
            catch (Exception e) when (e is IOException or ArgumentException or InvalidOperationException) { }
            var sw = Stopwatch.StartNew();
            while (ProcessLock.IsHeld(lockPath))
            {
                if (sw.Elapsed > TimeSpan.FromSeconds(10)) throw VmException.Conflict($"{name}: the VM process waiting for a migration did not exit");
                Thread.Sleep(50);
            }
        }
        // The migration may have arrived meanwhile: then this is a VM like any other, and stays.
        if (File.Exists(Path.Combine(dir, VmBundle.DefinitionFile)) && !force)
            throw VmException.Conflict($"{name}: the migration arrived meanwhile; it is a VM now");
        if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        return new VmResult(Message: $"removed {name}");
    }

    /// <summary>Where the VM went, when its last VM process ended by migrating it away; else null.</summary>
    public static string? MigratedTo(VmBundle bundle)
    {
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(bundle.ExitPath));
            return doc.RootElement.TryGetProperty("reason", out JsonElement r) && r.GetString() == VmProcessHost.MigratedReason
                && doc.RootElement.TryGetProperty(VmProcessHost.MigratedToField, out JsonElement to) ? to.GetString() : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException) { return null; }
    }

    // ---------------------------------------------------------------- state

    /// <summary>The state of a VM as <c>list</c> shows it, derived from the lock (see <see cref="VmBundle.IsLocked"/>).</summary>
    public static VmStatus Status(VmBundle bundle)
    {
        VmDefinition d = bundle.Definition;
        string state;
        int? pid = null;
        DateTimeOffset? started = null;
        if (bundle.IsLocked())
        {
            pid = bundle.ReadPid();
            try { started = File.GetLastWriteTimeUtc(bundle.PidPath); }
            catch (IOException) { }
            using var client = new VmProcessClient(bundle.ApiSocket, TimeSpan.FromSeconds(2));
            state = client.TryGetState() == "Paused" ? VmStatus.Paused : VmStatus.Running;
        }
        else
        {
            // A pid file without a lock holder: the process died without its cleanup (SIGKILL, a crash).
            state = File.Exists(bundle.PidPath) ? VmStatus.Crashed : MigratedTo(bundle) != null ? VmStatus.Migrated : VmStatus.Stopped;
        }
        return new VmStatus(d.Name, state, d.Cpus, d.MemoryMiB, pid, started, bundle.Directory);
    }

    /// <summary>A VM whose vm.json cannot be read is listed as invalid (its other actions say why) rather than
    /// hiding every other VM from the list.</summary>
    private VmStatus ListStatus(string name)
    {
        try { return Status(Home.Open(name)); }
        catch (VmException)
        {
            string dir = Home.BundleDirectory(name);
            bool running = ProcessLock.IsHeld(Path.Combine(dir, "vm.lock"));
            if (running && IsIncoming(name))
            {
                int? pid = int.TryParse(ReadOrEmpty(Path.Combine(dir, "vm.pid")).Trim(), out int p) ? p : null;
                return new VmStatus(name, VmStatus.Incoming, 0, 0, pid, null, dir);
            }
            return new VmStatus(name, running ? VmStatus.Running : VmStatus.Invalid, 0, 0, null, null, dir);
        }
    }

    private static string ReadOrEmpty(string path)
    {
        try { return File.ReadAllText(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return ""; }
    }

    private VmBundle OpenRunning(string name)
    {
        VmBundle bundle = Home.Open(name);
        if (!bundle.IsLocked()) throw VmException.Conflict($"{name} is not running");
        return bundle;
    }

    private VmBundle OpenStopped(string name, string what)
    {
        VmBundle bundle = Home.Open(name);
        if (bundle.IsLocked()) throw VmException.Conflict($"cannot {what} {name} while it runs (stop it first)");
        return bundle;
    }

    private static string WithClient(VmBundle bundle, Func<VmProcessClient, string> call)
    {
        using var client = new VmProcessClient(bundle.ApiSocket);
        try { return call(client); }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            throw VmException.Conflict($"{bundle.Name}: its VM process does not answer ({e.Message})");
        }
    }
}

/// <summary>The <c>action_type</c>s a VM process's own <c>PUT /actions</c> takes.</summary>
public static class VmProcessActions
{
    /// <summary>Ask the guest to power off (what Firecracker calls SendCtrlAltDel on x86).</summary>
    public const string PowerOffRequest = "SendCtrlAltDel";

    /// <summary>Power the machine off from outside, as holding the power button.</summary>
    public const string ForceOff = "ForceOff";
}
