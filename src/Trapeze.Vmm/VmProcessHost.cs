using System.Diagnostics;
using System.Text.Json;
using Trapeze.Devices.Power;
using Trapeze.Devices.Storage;
using Trapeze.Machine;
using Trapeze.Machine.Boot;
using Trapeze.Machine.Migration;

namespace Trapeze.Vmm;

/// <summary>What a VM process's control API (<c>api.sock</c>) can ask of the machine it runs.</summary>
public interface IVmProcessControl
{
    string Name { get; }

    /// <summary><c>Running</c> or <c>Paused</c> (Firecracker's words).</summary>
    string State { get; }
    DateTimeOffset StartedAt { get; }

    /// <summary>Saves the machine to <paramref name="path"/> (it goes on running).</summary>
    void SaveSnapshot(string path);

    /// <summary>Saves the machine and copies of its disks as the bundle's snapshot <paramref name="tag"/>
    /// (<see cref="BundleSnapshots"/>); it goes on running.</summary>
    void SaveBundleSnapshot(string tag);

    /// <summary>Asks the guest to power off; returns at once.</summary>
    void RequestPowerOff();

    /// <summary>Powers the machine off from outside.</summary>
    void ForceOff();
    void SetPaused(bool paused);
    string MetricsJson();

    /// <summary>Live-migrates the guest to the VM process receiving on <paramref name="destination"/> (HOST:PORT);
    /// on success returns the report as JSON and this process ends (its bundle is left marked migrated); on
    /// failure throws <see cref="VmException"/> and the guest runs on here.</summary>
    string Migrate(string destination);
}

/// <summary>
/// The body of a VM process (<c>trapeze vm-process --bundle DIR</c>): holds the bundle's lock for its whole
/// life, builds the machine from vm.json, serves the serial console and the control API, runs the guest until
/// it powers off, then leaves <c>exit.json</c> and removes its runtime files. Its stdout and stderr go to
/// DIR/vm-process.log, where the starter reads the reason of a failed start.
/// </summary>
public sealed class VmProcessHost : IVmProcessControl
{
    private readonly VmBundle _bundle;
    private readonly VirtMachine _machine;
    private int _powerOffRequested;
    private string? _migratedTo;

    /// <summary>Pause, resume and snapshots one at a time: a resume must not let the guest run in the middle of
    /// a snapshot that copies its disks.</summary>
    private readonly object _control = new();

    private VmProcessHost(VmBundle bundle, VirtMachine machine)
    {
        _bundle = bundle;
        _machine = machine;
        StartedAt = DateTimeOffset.UtcNow;
    }

    public string Name => _bundle.Name;
    public string State => MachineSnapshots.IsPaused(_machine) ? "Paused" : "Running";
    public DateTimeOffset StartedAt { get; }

    /// <summary>Runs the VM of <paramref name="bundleDirectory"/>, booting it or, with
    /// <paramref name="restoreFrom"/>, continuing the guest saved in that snapshot; <paramref name="serveApi"/> starts the
    /// control API on the given socket path. Returns the process exit code: the guest's (0 after a clean
    /// power-off), 2 for a configuration that cannot run, 70 for an internal failure.</summary>
    public static int Run(string bundleDirectory, string? restoreFrom, Func<IVmProcessControl, string, IDisposable> serveApi)
    {
        string dir = Path.GetFullPath(bundleDirectory);
        Native.DetachFromTerminal();
        Native.MakeCreatedFilesPrivate();
        Native.RedirectStdio(Path.Combine(dir, "vm-process.log"));
        VmBundle bundle;
        try { bundle = VmBundle.Open(dir); }
        catch (VmException e) { return Fail(e.Message); }

        using FileStream? held = ProcessLock.TryAcquire(bundle.LockPath);
        if (held == null) return Fail($"{bundle.Name} is already running");
        bundle.RemoveRuntimeLeftovers();
        File.WriteAllText(bundle.PidPath, $"{Environment.ProcessId}\n");
        int code;
        string reason;
        string? migratedTo = null;
        try
        {
            (code, reason, migratedTo) = RunMachine(bundle, restoreFrom, serveApi);
        }
        catch (Exception e) when (e is MachineConfigException or BootImageException or DiskImageException or VmException)
        {
            (code, reason) = (Fail($"{bundle.Name}: {e.Message}"), "refused");
        }
        catch (MachineFailureException e)
        {
            Console.Error.WriteLine($"trapeze: {e.Message}: {e.InnerException}");
            (code, reason) = (70, "failed");
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or UnauthorizedAccessException)
        {
            // A host resource the VM process needs (its sockets, its log) is not to be had.
            (code, reason) = (Fail($"{bundle.Name}: {e.Message}"), "refused");
        }
        WriteExit(bundle, code, reason, migratedTo);
        bundle.RemoveRuntimeLeftovers();
        return code;
    }

    private static void WriteExit(VmBundle bundle, int code, string reason, string? migratedTo)
    {
        var exit = new Dictionary<string, object> { ["reason"] = reason, ["exit_code"] = code, ["time"] = DateTimeOffset.UtcNow };
        if (migratedTo != null) exit[MigratedToField] = migratedTo;
        File.WriteAllText(bundle.ExitPath, JsonSerializer.Serialize(exit));
    }

    /// <summary>The exit.json reason of a VM process whose guest moved to another host.</summary>
    public const string MigratedReason = "migrated";

    /// <summary>The exit.json field naming where the guest went.</summary>
    public const string MigratedToField = "migrated_to";

    private static (int, string, string?) RunMachine(VmBundle bundle, string? restoreFrom, Func<IVmProcessControl, string, IDisposable> serveApi)
    {
        MachineConfig config = bundle.ToMachineConfig();
        using var console = new ConsoleHub(bundle.ConsoleLog);
        using var machine = new VirtMachine(config, console.Write);
        if (restoreFrom != null) MachineSnapshots.Restore(machine, restoreFrom);
        else machine.Load();
        var host = new VmProcessHost(bundle, machine);
        console.Listen(bundle.ConsoleSocket, data => machine.EnqueueConsoleInput(data));
        using IDisposable api = serveApi(host, bundle.ApiSocket);
        int code = machine.Run();
        if (host._migratedTo != null) return (0, MigratedReason, host._migratedTo);
        return (code, code == 0 ? "poweroff" : "guest-failure", null);
    }

    /// <summary>How long the source waits to connect to the destination.</summary>
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long either side waits on the other during the bundle transfer.</summary>
    private const int TransferTimeoutMs = 60_000;

    /// <summary>The writable drives as the running machine holds them (the machine's disks are the
    /// definition's drives, in order): format and size come from the open images, which the source holds
    /// exclusively, so that nothing has to open the files again.</summary>
    private IReadOnlyList<BundleTransfer.MigratedDisk> WritableDisks()
    {
        var list = new List<BundleTransfer.MigratedDisk>();
        for (int i = 0; i < _bundle.Definition.Drives.Count && i < _machine.Disks.Count; i++)
        {
            VmDrive drive = _bundle.Definition.Drives[i];
            IDiskImage image = _machine.Disks[i].Disk;
            if (drive.ReadOnly) continue;
            if (image is DirtyTrackingDiskImage tracked) image = tracked.Inner;
            list.Add(new BundleTransfer.MigratedDisk(drive.Id, image is Qcow2Image ? DiskImages.Qcow2 : DiskImages.Raw, image.Length));
        }
        return list;
    }

    public string Migrate(string destination)
    {
        if (Volatile.Read(ref _migratedTo) != null) throw VmException.Conflict($"{Name} has migrated already");
        IReadOnlyList<(string Name, string Path)> files = BundleTransfer.CheckMovable(_bundle);
        using System.Net.Sockets.TcpClient client = BundleTransfer.Connect(destination, ConnectTimeout);
        System.Net.Sockets.NetworkStream stream = client.GetStream();
        stream.ReadTimeout = TransferTimeoutMs;
        stream.WriteTimeout = TransferTimeoutMs;
        try { BundleTransfer.Send(stream, _bundle, files, MachineSnapshots.IsPaused(_machine), WritableDisks()); }
        catch (IOException e) { throw VmException.Conflict($"migration to {destination}: the destination went away ({e.Message})"); }
        // LiveMigration sets its own time-outs for the wait on the destination's acknowledgement.
        stream.ReadTimeout = System.Threading.Timeout.Infinite;
        MigrationReport report;
        try { report = LiveMigration.Send(_machine, stream, new MigrationOptions()); }
        catch (MigrationException e) { throw VmException.Conflict($"migration to {destination} failed, {Name} runs on here: {e.Message}"); }
        // The guest runs on the destination now: this machine, left paused, is powered off, which ends Run and
        // this process (after this answer is sent: the API is stopped gracefully).
        Volatile.Write(ref _migratedTo, destination);
        ForceOff();
        return JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["destination"] = destination,
            ["rounds"] = report.Rounds.Count,
            ["converged"] = report.Converged,
            ["pages_sent"] = report.PagesSent,
            ["disk_blocks_sent"] = report.DiskBlocksSent,
            ["bytes_sent"] = report.BytesSent,
            ["state_bytes"] = report.StateBytes,
            ["total_ms"] = Math.Round(report.TotalTime.TotalMilliseconds, 1),
            ["downtime_ms"] = Math.Round(report.Downtime.TotalMilliseconds, 1),
            ["summary"] = report.Summary(),
        });
    }

    /// <summary>
    /// The body of a VM process that receives a live migration (<c>trapeze vm-process --bundle DIR --incoming
    /// HOST:PORT</c>): <paramref name="bundleDirectory"/> exists and holds no vm.json yet. Holds the lock, listens,
    /// writes vm.pid once it does (the starter waits for that), takes one connection: the bundle transfer makes
    /// the bundle, <see cref="LiveMigration.Receive"/> the machine, which then runs as a started VM's does. If no
    /// source connects within <paramref name="timeout"/>, or the migration fails, the directory is removed.
    /// </summary>
    public static int RunIncoming(string bundleDirectory, string listen, TimeSpan timeout, Func<IVmProcessControl, string, IDisposable> serveApi)
    {
        string dir = Path.GetFullPath(bundleDirectory);
        string name = Path.GetFileName(dir);
        Native.DetachFromTerminal();
        Native.MakeCreatedFilesPrivate();
        Native.RedirectStdio(Path.Combine(dir, "vm-process.log"));
        using FileStream? held = ProcessLock.TryAcquire(Path.Combine(dir, "vm.lock"));
        if (held == null) return Fail($"{name} is already running");
        if (File.Exists(Path.Combine(dir, VmBundle.DefinitionFile))) return Fail($"a VM named '{name}' already exists ({dir})");
        System.Net.Sockets.TcpListener listener;
        try { listener = BundleTransfer.Listen(listen); }
        catch (VmException e) { return Fail(e.Message); }
        VmBundle? bundle = null;
        int code;
        string reason;
        string? migratedTo = null;
        try
        {
            File.WriteAllText(Path.Combine(dir, "vm.pid"), $"{Environment.ProcessId}\n");
            System.Net.Sockets.TcpClient client;
            using (listener.Server)
            {
                Task<System.Net.Sockets.TcpClient> accept = listener.AcceptTcpClientAsync();
                if (!accept.Wait(timeout))
                {
                    code = Fail($"{name}: no migration arrived on {listen} within {timeout.TotalSeconds:0} s");
                    Directory.Delete(dir, recursive: true);
                    return code;
                }
                client = accept.Result;
                // The last frames (the state, the acknowledgement) are small: sent at once, not coalesced.
                client.NoDelay = true;
                listener.Stop();
            }
            using (client)
                (code, reason, bundle, migratedTo) = ReceiveAndRun(dir, name, client, serveApi);
        }
        catch (Exception e) when (e is MigrationException or VmException or MachineConfigException or BootImageException or DiskImageException
            or IOException or System.Net.Sockets.SocketException or AggregateException)
        {
            Console.Error.WriteLine($"trapeze: {name}: {(e is AggregateException a ? a.InnerException?.Message : e.Message)}");
            // Nothing of this VM is left here: the guest runs on at the source.
            try { Directory.Delete(dir, recursive: true); }
            catch (IOException) { }
            return 2;
        }
        catch (MachineFailureException e)
        {
            Console.Error.WriteLine($"trapeze: {e.Message}: {e.InnerException}");
            (code, reason) = (70, "failed");
            bundle = VmBundle.Open(dir);
        }
        if (bundle != null)
        {
            WriteExit(bundle, code, reason, migratedTo);
            bundle.RemoveRuntimeLeftovers();
        }
        return code;
    }

    private static (int, string, VmBundle, string?) ReceiveAndRun(string dir, string name, System.Net.Sockets.TcpClient client,
        Func<IVmProcessControl, string, IDisposable> serveApi)
    {
        System.Net.Sockets.NetworkStream stream = client.GetStream();
        stream.ReadTimeout = TransferTimeoutMs;
        stream.WriteTimeout = TransferTimeoutMs;
        VmBundle bundle;
        MachineConfig config;
        bool paused;
        try
        {
            bundle = BundleTransfer.Receive(stream, dir, name, out paused);
            config = bundle.ToMachineConfig();
            foreach (string? file in new[] { config.KernelPath, config.InitrdPath, config.FirmwarePath })
                if (file != null && !File.Exists(file)) throw VmException.BadRequest($"cannot read '{file}' on the destination: no such file");
            foreach (DiskConfig disk in config.Disks)
                if (!File.Exists(disk.Path)) throw VmException.BadRequest($"cannot open disk '{disk.Path}' on the destination: no such file (live migration needs shared storage)");
        }
        catch (Exception e) when (e is VmException or MachineConfigException)
        {
            BundleTransfer.Reply(stream, e.Message);
            throw;
        }
        BundleTransfer.Reply(stream, null);
        // The rest of the stream is LiveMigration's, with its own time-outs on the source's side.
        stream.ReadTimeout = System.Threading.Timeout.Infinite;

        using var console = new ConsoleHub(bundle.ConsoleLog);
        var exited = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        using VirtMachine machine = LiveMigration.Receive(config, stream, new ReceiveOptions
        {
            State = paused ? StayPaused.Instance : SnapshotStateTransfer.Instance,
            ConsoleOutput = console.Write,
            OnCreated = SnapshotStateTransfer.RunPausedOnNewThread((_, c) => exited.TrySetResult(c), (_, e) => exited.TrySetException(e)),
        });
        var host = new VmProcessHost(bundle, machine);
        console.Listen(bundle.ConsoleSocket, data => machine.EnqueueConsoleInput(data));
        using IDisposable api = serveApi(host, bundle.ApiSocket);
        int code = exited.Task.GetAwaiter().GetResult();
        if (host._migratedTo != null) return (0, MigratedReason, bundle, host._migratedTo);
        return (code, code == 0 ? "poweroff" : "guest-failure", bundle, null);
    }

    /// <summary>The state transfer for a guest that was paused at the source: restored, it stays paused here
    /// (Run waits) until resumed.</summary>
    private sealed class StayPaused : IMachineStateTransfer
    {
        public static readonly StayPaused Instance = new();
        public bool Pause(VirtMachine machine) => SnapshotStateTransfer.Instance.Pause(machine);
        public void Resume(VirtMachine machine) => SnapshotStateTransfer.Instance.Resume(machine);
        public void SaveState(VirtMachine machine, Stream destination) => SnapshotStateTransfer.Instance.SaveState(machine, destination);
        public void RestoreState(VirtMachine machine, Stream source) => SnapshotStateTransfer.Instance.RestoreState(machine, source);
        public void Start(VirtMachine machine) { }
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine($"trapeze: {message}");
        return 2;
    }

    /// <summary>
    /// The board has no ACPI and no power button (neither has QEMU's virt), so the request goes in through
    /// the serial console, as magic SysRq. A break on the UART then a key (Linux's 8250
    /// console driver) or Ctrl-O then a key on hvc0; keys s, u, o: sync the disks, remount them read-only,
    /// power off. Debian kernels allow exactly these by default (kernel.sysrq = 438). A guest that ignores
    /// it is forced off by the caller after its time-out.
    /// </summary>
    public void RequestPowerOff()
    {
        // A paused guest cannot react: asked to power off, it is let go on first.
        MachineSnapshots.Resume(_machine);
        if (Interlocked.Exchange(ref _powerOffRequested, 1) != 0) return;
        new Thread(SendSysRqPowerOff) { IsBackground = true, Name = "sysrq" }.Start();
    }

    private void SendSysRqPowerOff()
    {
        try { SendSysRqKeys(); }
        // One sequence at a time; a later request sends it again (a guest may not have listened yet, early in boot).
        finally { Volatile.Write(ref _powerOffRequested, 0); }
    }

    private void SendSysRqKeys()
    {
        bool hvc = _machine.Config.InputConsole == ConsoleDevice.Virtio && _machine.VirtioConsole is { IsDriverReady: true };
        foreach (char key in "suo")
        {
            if (hvc)
            {
                _machine.EnqueueConsoleInput([0x0f, (byte)key]);
            }
            else
            {
                var wait = Stopwatch.StartNew();
                while (!_machine.Uart.TrySendBreak())
                {
                    if (wait.Elapsed > TimeSpan.FromSeconds(2)) return;
                    Thread.Sleep(10);
                }
                // The key must follow within the kernel's 5 s SysRq window, as its own character.
                Thread.Sleep(100);
                _machine.EnqueueConsoleInput([(byte)key]);
            }
            Thread.Sleep(key == 'o' ? 0 : 500);
        }
    }

    /// <summary>Carried out even while the machine is paused (a power-off changes nothing in it).</summary>
    public void ForceOff() => _machine.RequestPower(new PowerRequest(PowerRequestKind.PowerOff, 0));

    public void SetPaused(bool paused)
    {
        lock (_control)
        {
            if (paused) MachineSnapshots.Pause(_machine);
            else MachineSnapshots.Resume(_machine);
        }
    }

    public void SaveSnapshot(string path)
    {
        lock (_control) MachineSnapshots.Save(_machine, path);
    }

    public void SaveBundleSnapshot(string tag)
    {
        lock (_control) BundleSnapshots.Save(_bundle, _machine, tag);
    }

    /// <summary>The VM process's memory: guest RAM is a fixed mapping, the managed heap is bounded by
    /// DOTNET_GCHeapHardLimit (its limit shows here as the heap's available memory).</summary>
    private static Dictionary<string, long> ProcessMetrics()
    {
        GCMemoryInfo gc = GC.GetGCMemoryInfo();
        using var self = Process.GetCurrentProcess();
        return new Dictionary<string, long>
        {
            ["pid"] = Environment.ProcessId,
            ["resident_bytes"] = self.WorkingSet64,
            ["gc_heap_bytes"] = GC.GetTotalMemory(false),
            ["gc_heap_limit_bytes"] = gc.TotalAvailableMemoryBytes,
        };
    }

    public unsafe string MetricsJson()
    {
        var harts = new List<object>();
        foreach (var h in _machine.Harts)
        {
            var s = h.Stats;
            harts.Add(new Dictionary<string, object>
            {
                ["hart"] = h.HartId,
                ["instructions_retired"] = h.State->Retired,
                ["instructions_translated"] = s.TranslatedInstructions,
                ["blocks_interpreted"] = s.Blocks,
                ["blocks_decoded"] = s.BlocksDecoded,
                ["region_runs"] = s.RegionRuns,
                ["exits"] = new Dictionary<string, long>
                {
                    ["exceptions"] = s.Exceptions, ["page_faults"] = s.PageFaults, ["ecalls"] = s.Ecalls,
                    ["interrupts"] = s.Interrupts, ["csr"] = s.CsrAccesses, ["mmio"] = h.Mmu.MmioAccesses,
                    ["wfi"] = s.WfiSleeps, ["sfence_vma"] = s.SfenceVma, ["fence_i"] = s.FenceI,
                    ["block_cache_flushes"] = s.BlockCacheFlushes, ["page_walks"] = h.Mmu.PageWalks,
                    ["hypercalls"] = s.Hypercalls, ["remote_fences"] = s.RemoteFences,
                },
            });
        }
        var metrics = new Dictionary<string, object>
        {
            ["name"] = Name,
            ["state"] = State,
            ["uptime_seconds"] = Math.Round((DateTimeOffset.UtcNow - StartedAt).TotalSeconds, 3),
            ["harts"] = harts,
            ["process"] = ProcessMetrics(),
        };
        if (_machine.Translator is { } t)
        {
            var j = t.Stats;
            metrics["jit"] = new Dictionary<string, object>
            {
                ["regions_compiled"] = j.RegionsCompiled, ["instructions_compiled"] = j.InstructionsCompiled,
                ["compile_ms"] = Math.Round(j.CompileMilliseconds, 1), ["host_compile_ms"] = Math.Round(j.HostCompileMilliseconds, 1),
                ["requests"] = j.Requests, ["shared_hits"] = j.SharedHits, ["discarded"] = j.Discarded,
                ["untranslatable"] = j.Untranslatable, ["failures"] = j.Failures,
            };
        }
        if (_machine.Sbi is { } sbi)
            metrics["sbi"] = sbi.Statistics.NonZero().ToDictionary(x => x.Name, x => x.Count);
        return JsonSerializer.Serialize(metrics);
    }
}
