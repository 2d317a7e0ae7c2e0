using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Trapeze.Api;
using Trapeze.Machine;
using Trapeze.Vmm;

namespace Trapeze.Cli;

/// <summary>
/// The VM verbs (<c>create</c>, <c>start</c>, <c>stop</c>, <c>list</c>...): each builds one <see cref="VmAction"/>
/// and hands it to <c>trapezed</c> when its socket answers, else to a <see cref="VmManager"/> in this process.
/// </summary>
public static class VmCommands
{
    public const string Help = """
        usage: trapeze create NAME [--kernel FILE] [--initrd FILE] [--append TEXT] [--bios builtin|none|opensbi|FILE]
                               [--mem SIZE] [--smp N] [--disk size=SIZE[,format=qcow2|raw][,id=ID]|FILE[,...]]...
                               [--net SPEC]... [--device DEV]... [--console ttyS0|hvc0] [--no-jit]
                               [--gc-heap-limit SIZE] [--stop-timeout SECONDS]
               trapeze start NAME            start the VM in a process of its own
               trapeze stop NAME [--timeout SECONDS]
                                             ask the guest to power off, force it after the time-out
               trapeze kill NAME             end the VM process at once
               trapeze pause|resume NAME     hold the machine still (its clock too), let it go on
               trapeze snapshot save NAME [TAG]
                                             save the running VM and its disks as snapshots/TAG (TAG: default)
               trapeze snapshot restore NAME [TAG]
                                             put that snapshot's disks back, start the powered-off VM from it
               trapeze snapshot list NAME    the VM's snapshots
               trapeze snapshot rm NAME TAG  delete a snapshot
               trapeze resize NAME DRIVE SIZE
                                             grow a disk of a powered-off VM (e.g. vda 8G)
               trapeze list                  every VM: state, CPUs, memory, uptime
               trapeze console NAME          attach to the serial console (Ctrl-A d detaches)
               trapeze rm NAME [--force]     delete the VM (--force: even while it runs)
               trapeze export NAME FILE      pack a powered-off VM into one tar archive (.tar.gz: compressed)
               trapeze import FILE [NAME]    unpack an exported VM
               trapeze receive NAME --listen HOST:PORT [--timeout SECONDS]
                                             wait (default 600 s) for a live migration, then run it as NAME
               trapeze migrate NAME --to HOST:PORT
                                             live-migrate the running VM to a host where 'receive' waits
               trapeze daemon                serve the REST API on $TRAPEZE_HOME/trapezed.sock (also ./trapezed)

        A VM is a directory, $TRAPEZE_HOME/vms/NAME ($TRAPEZE_HOME defaults to ~/.local/share/trapeze): vm.json,
        the kernel, initrd and disks it boots (copied in at create), snapshots/, and while it runs console.log,
        console.sock, api.sock and vm.pid. A powered-off VM directory copied elsewhere starts there.
        With no --kernel, create uses the default guest (as 'trapeze run' does). --disk size=4G makes a new disk
        in the VM directory (qcow2 unless format=raw); --disk FILE uses an image where it is.
        Each VM process's managed heap is bounded by --gc-heap-limit (default 256M), beside its guest RAM.
        stop: the board has no ACPI or power button, so the guest is asked through magic SysRq on its console
        (sync, remount read-only, power off), which Debian's kernels accept; after --timeout (default the
        VM's, 30 s) the machine is powered off from outside.
        migrate: RAM is copied while the guest runs (rounds of dirty pages), then the guest is paused for a last
        short copy and goes on at the destination; the downtime is printed. vm.json and the boot files travel
        with it; writable disks in the VM directory are copied along (their writes tracked meanwhile);
        read-only images must be at a path both hosts reach.
        The VM here is then listed as migrated and refuses to start. If the migration fails, it runs on here.
        receive: until the migration arrives the VM is listed as incoming; 'rm --force NAME' ends the wait.
        snapshot: the guest is paused while its state is saved and its disks in the VM directory are copied
        (sparse: only their data); restore gives it those disks back, whatever it wrote since. A writable
        --disk FILE outside the VM directory cannot be put back, so snapshots of such a VM are refused.
        """;

    public static readonly string[] Verbs =
        ["create", "start", "stop", "kill", "pause", "resume", "snapshot", "resize", "list", "ls", "console", "rm", "export", "import", "migrate", "receive"];

    public static int Execute(string verb, string[] args)
    {
        if (args.Contains("--help") || args.Contains("-h"))
        {
            HostStreams.Out.Write(Help);
            return 0;
        }
        var home = VmHome.FromEnvironment();
        var local = new VmManager(home, VmProcessLauncher.FromCurrentProcess());
        if (verb == "console") return Console(home, args);
        VmAction action = Build(verb, args);
        using DaemonClient? daemon = DaemonClient.TryConnect(home, local);
        VmResult result = ((IVmActionExecutor?)daemon ?? local).Execute(action);
        Print(action, result);
        return 0;
    }

    private static VmAction Build(string verb, string[] args)
    {
        switch (verb)
        {
            case "create":
                return new VmAction.Create(ParseCreate(args));
            case "stop":
            {
                var a = new ArgReader("stop", args, ["timeout"], []);
                TimeSpan? timeout = a.Value("timeout") is { } t ? TimeSpan.FromSeconds(ArgReader.ParseInt("timeout", t, 0, 86_400)) : null;
                return new VmAction.Stop(One(a, "stop"), timeout);
            }
            case "rm":
            {
                var a = new ArgReader("rm", args, [], ["force"]);
                return new VmAction.Remove(One(a, "rm"), a.Flag("force"));
            }
            case "snapshot":
            {
                var a = new ArgReader("snapshot", args, [], []);
                if (a.Positional.Count == 2 && a.Positional[0] is "list" or "ls")
                {
                    VmNames.Check(a.Positional[1]);
                    return new VmAction.ListSnapshots(a.Positional[1]);
                }
                if (a.Positional is ["rm", _, _])
                {
                    VmNames.Check(a.Positional[1]);
                    VmNames.CheckDeviceId(a.Positional[2], "snapshot tag");
                    return new VmAction.RemoveSnapshot(a.Positional[1], a.Positional[2]);
                }
                if (a.Positional.Count is < 2 or > 3 || a.Positional[0] is not ("save" or "restore"))
                    throw new UsageException("snapshot: expected save|restore NAME [TAG], list NAME or rm NAME TAG");
                string tag = a.Positional.Count == 3 ? a.Positional[2] : "default";
                VmNames.CheckDeviceId(tag, "snapshot tag");
                return a.Positional[0] == "save" ? new VmAction.Snapshot(a.Positional[1], tag) : new VmAction.Restore(a.Positional[1], tag);
            }
            case "resize":
            {
                var a = new ArgReader("resize", args, [], []);
                if (a.Positional.Count != 3) throw new UsageException("resize: expected NAME DRIVE SIZE");
                VmNames.Check(a.Positional[0]);
                return new VmAction.ResizeDisk(a.Positional[0], a.Positional[1], DiskCommand.ParseSize("resize", a.Positional[2], allowZero: false));
            }
            case "export":
            {
                var a = new ArgReader("export", args, [], []);
                if (a.Positional.Count != 2) throw new UsageException("export: expected NAME FILE");
                return new VmAction.Export(a.Positional[0], a.Positional[1]);
            }
            case "import":
            {
                var a = new ArgReader("import", args, [], []);
                if (a.Positional.Count is < 1 or > 2) throw new UsageException("import: expected FILE [NAME]");
                return new VmAction.Import(a.Positional[0], a.Positional.Count == 2 ? a.Positional[1] : null);
            }
            case "migrate":
            {
                var a = new ArgReader("migrate", args, ["to"], []);
                string to = a.Value("to") ?? throw new UsageException("migrate: --to HOST:PORT is required");
                CheckAddress("migrate --to", to);
                return new VmAction.Migrate(One(a, "migrate"), to);
            }
            case "receive":
            {
                var a = new ArgReader("receive", args, ["listen", "timeout"], []);
                string listen = a.Value("listen") ?? throw new UsageException("receive: --listen HOST:PORT is required");
                CheckAddress("receive --listen", listen);
                TimeSpan? timeout = a.Value("timeout") is { } t ? TimeSpan.FromSeconds(ArgReader.ParseInt("timeout", t, 1, 86_400)) : null;
                return new VmAction.Receive(One(a, "receive"), listen, timeout);
            }
            case "list" or "ls":
            {
                var a = new ArgReader(verb, args, [], []);
                if (a.Positional.Count > 0) throw new UsageException($"{verb}: unexpected argument '{a.Positional[0]}'");
                return new VmAction.List();
            }
            default:
            {
                var a = new ArgReader(verb, args, [], []);
                string name = One(a, verb);
                return verb switch
                {
                    "start" => new VmAction.Start(name),
                    "kill" => new VmAction.Kill(name),
                    "pause" => new VmAction.Pause(name),
                    "resume" => new VmAction.Resume(name),
                    _ => throw new UsageException($"unknown command '{verb}'"),
                };
            }
        }
    }

    private static void CheckAddress(string what, string address)
    {
        try { BundleTransfer.ParseAddress(address, what); }
        catch (VmException e) { throw new UsageException(e.Message); }
    }

    private static string One(ArgReader a, string verb)
    {
        if (a.Positional.Count != 1) throw new UsageException($"{verb}: expected one VM NAME");
        VmNames.Check(a.Positional[0]);
        return a.Positional[0];
    }

    private static VmCreateRequest ParseCreate(string[] args)
    {
        var a = new ArgReader("create", args,
            ["kernel", "initrd", "append", "bios", "mem", "smp", "disk", "net", "device", "console", "gc-heap-limit", "stop-timeout"], ["no-jit"]);
        if (a.Positional.Count != 1) throw new UsageException("create: expected one VM NAME");
        string name = a.Positional[0];
        VmNames.Check(name);
        ulong mem = a.Value("mem") is { } m ? ArgReader.ParseSize("mem", m) : MachineConfig.DefaultMemory;
        if (mem % (1UL << 20) != 0) throw new UsageException("--mem: a VM's memory is a whole number of MiB");
        string bios = a.Value("bios") ?? VmDefinition.FirmwareOpenSbi;
        if (bios.Length == 0) throw new UsageException("--bios: empty path");
        var r = new VmCreateRequest
        {
            Name = name,
            MemoryMiB = mem >> 20,
            Cpus = a.Value("smp") is { } s ? ArgReader.ParseInt("smp", s, 1, MachineConfig.MaxHarts) : 1,
            Firmware = bios,
            Kernel = a.Value("kernel"),
            Initrd = a.Value("initrd"),
            Cmdline = a.Value("append"),
            Disks = a.Values("disk").Select(ParseDisk).ToList(),
            NetworkInterfaces = a.Values("net").Select((n, i) => ParseNet(n, i)).ToList(),
            Devices = a.Values("device").Select(d => { VirtioOptions.ParseDevice(d); return d; }).ToList(),
            Console = a.Value("console") is { } c ? (VirtioOptions.ParseConsole(c) == ConsoleDevice.Serial ? "ttyS0" : "hvc0") : null,
            Jit = !a.Flag("no-jit"),
            GcHeapLimitMiB = a.Value("gc-heap-limit") is { } g ? (int)Math.Min(ArgReader.ParseSize("gc-heap-limit", g) >> 20, int.MaxValue) : VmDefinition.DefaultGcHeapLimitMiB,
            StopTimeoutSeconds = a.Value("stop-timeout") is { } st ? ArgReader.ParseInt("stop-timeout", st, 0, 86_400) : VmDefinition.DefaultStopTimeoutSeconds,
        };
        if (r.GcHeapLimitMiB < 32) throw new UsageException("--gc-heap-limit: at least 32M");
        if (r.Kernel == null && bios is VmDefinition.FirmwareOpenSbi or VmDefinition.FirmwareBuiltin)
        {
            // As 'trapeze run' with no kernel: the default guest.
            DefaultGuest.Ensure();
            r = r with { Kernel = DefaultGuest.Kernel, Initrd = r.Initrd ?? DefaultGuest.Initrd, Cmdline = r.Cmdline ?? "console=ttyS0" };
        }
        return r;
    }

    /// <summary><c>size=4G[,format=qcow2][,id=ID][,readonly=on][,serial=S]</c> for a new disk, or
    /// <c>FILE[,format=...][,id=ID][,readonly=on][,serial=S]</c> for an existing image.</summary>
    private static VmDiskRequest ParseDisk(string text)
    {
        string[] parts = text.Split(',');
        var d = new VmDiskRequest();
        foreach ((string part, int i) in parts.Select((p, i) => (p, i)))
        {
            int eq = part.IndexOf('=');
            if (i == 0 && eq < 0)
            {
                if (part.Length == 0) throw new UsageException($"--disk '{text}': no image file or size=");
                d = d with { Path = part };
                continue;
            }
            string key = eq < 0 ? part : part[..eq], value = eq < 0 ? "" : part[(eq + 1)..];
            d = key switch
            {
                "size" => d with { Size = DiskCommand.ParseSize("--disk size", value, allowZero: false) },
                "format" when value is "raw" or "qcow2" => d with { Format = value },
                "format" => throw new UsageException($"--disk: format '{value}' is not supported (raw, qcow2)"),
                "id" => d with { Id = value },
                "readonly" => d with { ReadOnly = value is "on" or "yes" or "true" or "" ? true : value is "off" or "no" or "false" ? false : throw new UsageException($"--disk: readonly={value} is not on or off") },
                "serial" => d with { Serial = value },
                _ => throw new UsageException($"--disk: unknown option '{key}' (options: size, format, id, readonly, serial)"),
            };
        }
        if (d.Size == null && d.Path == null) throw new UsageException($"--disk '{text}': give size=SIZE for a new disk or an image FILE");
        if (d.Size != null && d.Path != null) throw new UsageException($"--disk '{text}': give size=SIZE or a FILE, not both");
        if (d.Size is { } size && size % 512 != 0) throw new UsageException($"--disk size: {size} is not a multiple of 512");
        return d;
    }

    private static VmNetworkInterface ParseNet(string text, int index)
    {
        NetConfig n = VirtioOptions.ParseNet(text);
        string backend = n.Backend switch
        {
            NetBackendKind.Tap => "tap",
            NetBackendKind.SocketListen => "socket-listen",
            _ => "socket-connect",
        };
        string? mac = n.Mac is { } m ? string.Join(':', m.Select(b => b.ToString("x2", CultureInfo.InvariantCulture))) : null;
        return new VmNetworkInterface($"eth{index}", backend, n.Address, mac);
    }

    private static void Print(VmAction action, VmResult result)
    {
        var w = HostStreams.Out;
        if (action is VmAction.List)
        {
            w.WriteLine($"{"NAME",-20} {"STATE",-8} {"CPUS",4} {"MEMORY",8} {"UPTIME",9} {"PID",8}");
            foreach (VmStatus s in result.Vms!)
            {
                string uptime = s.StartedAt is { } t && s.State is VmStatus.Running or VmStatus.Paused ? Uptime(DateTimeOffset.UtcNow - t) : "-";
                w.WriteLine($"{s.Name,-20} {s.State,-8} {s.Cpus,4} {s.MemoryMiB + "M",8} {uptime,9} {(s.Pid?.ToString(CultureInfo.InvariantCulture) ?? "-"),8}");
            }
            return;
        }
        if (action is VmAction.ListSnapshots)
        {
            w.WriteLine($"{"TAG",-20} {"SAVED (UTC)",-19} {"STATE",10} {"DISKS",10}  DRIVES");
            foreach (VmSnapshotInfo s in result.Snapshots ?? [])
                w.WriteLine($"{s.Tag,-20} {s.Created.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),-19} " +
                    $"{Bytes(s.StateBytes),10} {Bytes(s.DiskBytes),10}  {(s.Drives.Count > 0 ? string.Join(',', s.Drives) : "-")}");
            return;
        }
        if (result.Json != null) w.WriteLine(result.Json);
        if (result.Message != null) HostStreams.Error.WriteLine($"trapeze: {result.Message}");
    }

    private static string Bytes(long n) =>
        n >= 1L << 30 ? $"{n / (double)(1L << 30):0.0}G" : n >= 1L << 20 ? $"{n / (double)(1L << 20):0.0}M" : $"{(n + 1023) / 1024}K";

    private static string Uptime(TimeSpan t) =>
        t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:00}m" : t.TotalMinutes >= 1 ? $"{t.Minutes}m{t.Seconds:00}s" : $"{Math.Max(0, t.Seconds)}s";

    // ---------------------------------------------------------------- console

    private static int Console(VmHome home, string[] args)
    {
        var a = new ArgReader("console", args, [], []);
        string name = One(a, "console");
        VmBundle bundle = home.Open(name);
        if (!bundle.IsLocked()) throw VmException.Conflict($"{name} is not running");
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try { socket.Connect(new UnixDomainSocketEndPoint(bundle.ConsoleSocket)); }
        catch (SocketException e) { throw VmException.Conflict($"{name}: cannot attach to its console ({e.Message})"); }
        using var done = new ManualResetEventSlim();
        bool vmEnded = false;
        using var stdout = HostStreams.OpenStdout();
        var reader = new Thread(() =>
        {
            var buf = new byte[4096];
            try
            {
                int n;
                while ((n = socket.Receive(buf)) > 0)
                {
                    stdout.Write(buf, 0, n);
                    stdout.Flush();
                }
                vmEnded = true;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or IOException) { }
            done.Set();
        }) { IsBackground = true, Name = "console-reader" };
        reader.Start();
        if (HostTerminal.StdinIsTerminal) HostStreams.Error.Write($"Attached to {name}'s console; Ctrl-A d detaches.\r\n");
        using var input = new TerminalInput(
            data =>
            {
                try { socket.Send(data); }
                catch (SocketException) { done.Set(); }
            },
            () => done.Set(),
            msg => HostStreams.Error.Write(msg),
            attached: true)
        {
            // Input from a pipe that ends: let the output of what was sent arrive, then detach.
            EndOfInput = () => { Thread.Sleep(500); done.Set(); },
        };
        input.Start();
        done.Wait();
        input.Dispose();
        if (vmEnded) HostStreams.Error.Write($"\r\ntrapeze: {name} stopped\r\n");
        return 0;
    }

    // ---------------------------------------------------------------- processes

    /// <summary>The hidden verb the monitor starts each VM process with.</summary>
    public static int VmProcess(string[] args)
    {
        var a = new ArgReader("vm-process", args, ["bundle", "restore", "incoming", "incoming-timeout"], []);
        string dir = a.Value("bundle") ?? throw new UsageException("vm-process: --bundle DIR is required");
        if (a.Value("incoming") is { } listen)
        {
            int seconds = a.Value("incoming-timeout") is { } t ? ArgReader.ParseInt("incoming-timeout", t, 1, 86_400) : 600;
            return VmProcessHost.RunIncoming(dir, listen, TimeSpan.FromSeconds(seconds), VmApiServer.Serve);
        }
        return VmProcessHost.Run(dir, a.Value("restore"), VmApiServer.Serve);
    }

    public const string DaemonHelp = """
        usage: trapeze daemon

        Serves the REST API (docs/api/openapi.yaml, also at GET /openapi.yaml) on $TRAPEZE_HOME/trapezed.sock,
        mode 0600, until SIGINT or SIGTERM. VMs it starts run in processes of their own and go on running
        when it stops. The other VM commands use it while it runs.
        """;

    public static int Daemon(string[] args)
    {
        var a = new ArgReader("daemon", args, [], ["help"]);
        if (a.Flag("help")) { HostStreams.Out.Write(DaemonHelp); return 0; }
        if (a.Positional.Count > 0) throw new UsageException($"daemon: unexpected argument '{a.Positional[0]}'");
        var home = VmHome.FromEnvironment();
        using var stop = new CancellationTokenSource();
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
        using var intr = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
        HostStreams.Error.WriteLine($"trapeze: serving {home.DaemonSocket}");
        return DaemonServer.Serve(home, VmProcessLauncher.FromCurrentProcess(), stop.Token);
    }
}
