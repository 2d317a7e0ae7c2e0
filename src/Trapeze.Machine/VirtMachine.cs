using Trapeze.Core.Cpu;
using Trapeze.Core.Memory;
using Trapeze.Devices.Fdt;
using Trapeze.Devices.Irq;
using Trapeze.Devices.Power;
using Trapeze.Devices.Rtc;
using Trapeze.Devices.Serial;
using Trapeze.Devices.Storage;
using Trapeze.Devices.Virtio;
using Trapeze.Devices.Virtio.Block;
using Trapeze.Devices.Virtio.Console;
using Trapeze.Devices.Virtio.Net;
using Trapeze.Devices.Virtio.Rng;
using Trapeze.Jit;
using Trapeze.Machine.Boot;
using Trapeze.Machine.Sbi;

namespace Trapeze.Machine;

/// <summary>
/// A machine compatible with QEMU's <c>virt</c> board (DESIGN.md, "The machine a guest sees"): harts,
/// DRAM, the boot ROM, CLINT, PLIC, NS16550A UART, Goldfish RTC, the SiFive test device and eight
/// virtio-mmio slots, with a device tree generated from the devices. One host thread per hart while
/// running; each virtio device does its I/O on a thread of its own.
/// </summary>
public sealed partial class VirtMachine : IDisposable
{
    public const ulong TestBase = 0x0010_0000, RtcBase = 0x0010_1000, ClintBase = 0x0200_0000,
        PlicBase = 0x0c00_0000, UartBase = 0x1000_0000, DramBase = 0x8000_0000;
    public const int UartIrq = 10, RtcIrq = 11;
    /// <summary>virtio-mmio slot n is at VirtioBase + n * VirtioStride with PLIC source VirtioIrqBase + n.</summary>
    public const ulong VirtioBase = 0x1000_1000, VirtioStride = 0x1000;
    public const int VirtioIrqBase = 1;

    private readonly List<Thread> _threads = [];
    /// <summary>Set while a power request waits to be carried out (console input stops waiting then).</summary>
    private readonly ManualResetEventSlim _powerEvent = new(false);
    /// <summary>Wakes <see cref="Run"/> to stop the hart threads: a power request or a pause.</summary>
    private readonly ManualResetEventSlim _stopEvent = new(false);
    /// <summary>Guards the run state below; waited on (Monitor) for changes of it.</summary>
    private readonly object _runLock = new();
    private PowerRequest? _powerRequest;
    /// <summary>A pause was asked for and not yet ended by Resume.</summary>
    private bool _pauseRequested;
    /// <summary><see cref="Run"/> is doing something other than waiting out a pause: hart threads may run,
    /// or a reset is being carried out.</summary>
    private bool _runnerBusy;
    private bool _running;
    private bool _disposed;
    private BootImages? _images;
    private Exception? _hartFailure;

    public VirtMachine(MachineConfig config, Action<byte> consoleOutput)
    {
        if (config.MemorySize == 0 || (config.MemorySize & 0xfff) != 0)
            throw new MachineConfigException($"memory size {config.MemorySize} is not a positive multiple of 4 KiB");
        if (config.MemorySize > (1UL << 40))
            throw new MachineConfigException($"memory size {config.MemorySize >> 20} MiB is larger than the 1 TiB supported");
        if (config.Harts < 1 || config.Harts > MachineConfig.MaxHarts)
            throw new MachineConfigException($"hart count {config.Harts} is outside 1..{MachineConfig.MaxHarts}");
        Config = config;
        // Disk images first: a bad one is a one-line user error before any memory is reserved.
        IVirtioDevice[] virtio = CreateVirtioDevices(config, consoleOutput, out var disks, out var virtioConsole);
        Disks = disks;
        VirtioConsole = virtioConsole;
        Bus = new Bus();
        Memory = new GuestMemory(Bus);
        Clock = new MachineClock();
        Dram = new GuestRam("dram", DramBase, config.MemorySize);
        Rom = new GuestRam("rom", BootRom.Base, BootRom.Size, readOnly: true);
        Bus.AddMemory(Rom);
        Bus.AddMemory(Dram, isDram: true);

        if (config.Lockstep > 0 && config.Harts != 1)
            throw new MachineConfigException("lockstep checking runs one hart (--smp 1)");
        if (config.Lockstep > 0 && !config.Jit)
            throw new MachineConfigException("lockstep checking compares the translator with the interpreter: it needs the translator");
        Harts = new Hart[config.Harts];
        if (config.Jit) Translator = new Translator(config.JitThreshold, config.JitSynchronous || config.Lockstep > 0);
        for (int i = 0; i < Harts.Length; i++) Harts[i] = new Hart(i, Bus, Clock) { Translator = Translator };
        if (config.Lockstep > 0)
        {
            Lockstep = new LockstepChecker(config.Lockstep)
            {
                DescribeRegion = RegionListing.Describe,
                OnDivergence = _ => RequestPower(new PowerRequest(PowerRequestKind.Fail, LockstepExitCode)),
            };
            Harts[0].Lockstep = Lockstep;
        }

        Plic = new Plic(Harts);
        Clint = new Aclint(Harts, Clock);
        Uart = new Ns16550(Plic.Line(UartIrq), consoleOutput);
        Rtc = new GoldfishRtc(Plic.Line(RtcIrq));
        Test = new SifiveTest(RequestPower);
        Bus.AddDevice(TestBase, Test);
        Bus.AddDevice(RtcBase, Rtc);
        Bus.AddDevice(ClintBase, Clint);
        Bus.AddDevice(PlicBase, Plic);
        Bus.AddDevice(UartBase, Uart);
        if (config.Firmware == FirmwareKind.Builtin)
            Sbi = new BuiltinSbi(Harts, Memory, new UartDebugConsole(Uart), RequestPower);

        // As QEMU: the first device goes into the highest slot, and the device tree lists the slots from
        // the highest down, so Linux probes the first device first (the first disk is vda).
        Virtio = new VirtioMmioTransport[MachineConfig.VirtioSlots];
        for (int n = 0; n < Virtio.Length; n++)
        {
            int index = Virtio.Length - 1 - n;
            IVirtioDevice? device = index < virtio.Length ? virtio[index] : null;
            Virtio[n] = new VirtioMmioTransport($"virtio{n}", Memory, Plic.Line(VirtioIrqBase + n), device);
            Bus.AddDevice(VirtioBase + (ulong)n * VirtioStride, Virtio[n]);
        }
    }

    private static IVirtioDevice[] CreateVirtioDevices(MachineConfig config, Action<byte> consoleOutput,
        out IReadOnlyList<VirtioBlock> disks, out VirtioConsole? console)
    {
        int count = config.Disks.Count + config.Nets.Count + config.VirtioDevices.Count;
        if (count > MachineConfig.VirtioSlots)
            throw new MachineConfigException($"{count} virtio devices ({config.Disks.Count} disks) do not fit in the board's {MachineConfig.VirtioSlots} virtio-mmio slots");
        var devices = new List<IVirtioDevice>();
        var blocks = new List<VirtioBlock>();
        var opened = new List<IDisposable>();
        console = null;
        try
        {
            foreach (DiskConfig disk in config.Disks)
            {
                var block = new VirtioBlock(OpenDisk(disk), disk.Serial);
                blocks.Add(block);
                opened.Add(block);
                devices.Add(block);
            }
            foreach (NetConfig net in config.Nets)
            {
                INetBackend backend = OpenNetBackend(net);
                opened.Add(backend);
                devices.Add(new VirtioNet(backend, net.Mac ?? VirtioNet.GenerateMac()));
            }
        }
        catch
        {
            foreach (IDisposable d in opened) d.Dispose();
            throw;
        }
        foreach (VirtioDeviceKind kind in config.VirtioDevices)
        {
            switch (kind)
            {
                case VirtioDeviceKind.Rng:
                    devices.Add(new VirtioRng());
                    break;
                case VirtioDeviceKind.Console:
                    var c = new VirtioConsole(data => { foreach (byte b in data) consoleOutput(b); });
                    console ??= c;
                    devices.Add(c);
                    break;
                default:
                    throw new MachineConfigException($"unknown virtio device kind {kind}");
            }
        }
        disks = blocks;
        return [.. devices];
    }

    private static INetBackend OpenNetBackend(NetConfig net)
    {
        try
        {
            return net.Backend switch
            {
                NetBackendKind.SocketListen => SocketNetBackend.Listen(ResolveEndPoint(net.Address)),
                NetBackendKind.SocketConnect => SocketNetBackend.Connect(ResolveEndPoint(net.Address)),
                NetBackendKind.Tap => TapNetBackend.Open(net.Address),
                _ => throw new MachineConfigException($"--net: unknown backend {net.Backend}"),
            };
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
        {
            throw new MachineConfigException($"--net {net.Backend switch { NetBackendKind.Tap => "tap", _ => "socket" }} {net.Address}: {e.Message}");
        }
    }

    private static System.Net.IPEndPoint ResolveEndPoint(string hostPort)
    {
        int colon = hostPort.LastIndexOf(':');
        string host = hostPort[..colon].Trim('[', ']');
        int port = int.Parse(hostPort.AsSpan(colon + 1), System.Globalization.CultureInfo.InvariantCulture);
        if (!System.Net.IPAddress.TryParse(host, out System.Net.IPAddress? address))
        {
            System.Net.IPAddress[] found = System.Net.Dns.GetHostAddresses(host);
            if (found.Length == 0) throw new IOException($"'{host}' has no address");
            address = found[0];
        }
        return new System.Net.IPEndPoint(address, port);
    }

    private static IDiskImage OpenDisk(DiskConfig disk)
    {
        if (disk.Format is not (null or DiskImages.Raw or DiskImages.Qcow2))
            throw new MachineConfigException($"disk '{disk.Path}': format '{disk.Format}' is not supported (raw, qcow2)");
        if (disk.Serial is { } serial && (serial.Length > VirtioBlock.IdBytes || serial.Any(ch => ch < 0x20 || ch > 0x7e)))
            throw new MachineConfigException($"disk '{disk.Path}': serial '{serial}' is not up to {VirtioBlock.IdBytes} printable ASCII characters");
        try
        {
            // Without a format the image is probed (qcow2 magic, else raw); a probed raw image refuses
            // guest writes that would make it look like qcow2 next time.
            IDiskImage image = DiskImages.Open(disk.Path, new DiskOpenOptions(disk.Format, disk.ReadOnly, disk.AllowExternalBacking));
            // A writable disk can be copied while the guest runs (live migration) only if its writes can be
            // followed; the wrapper costs a null check per write when nobody follows them.
            return image.ReadOnly ? image : new DirtyTrackingDiskImage(image);
        }
        catch (DiskImageException e)
        {
            throw new MachineConfigException(e.Message);
        }
    }

    public MachineConfig Config { get; }
    public Bus Bus { get; }
    public GuestMemory Memory { get; }
    public MachineClock Clock { get; }
    public GuestRam Dram { get; }
    public GuestRam Rom { get; }
    public Hart[] Harts { get; }

    /// <summary>The exit code of a run stopped by a lockstep divergence.</summary>
    public const int LockstepExitCode = 3;

    /// <summary>The lockstep checker (<see cref="MachineConfig.Lockstep"/>), or null.</summary>
    public LockstepChecker? Lockstep { get; }

    /// <summary>The tier-1 translator shared by the harts, or null with --no-jit.</summary>
    public Translator? Translator { get; }
    public Plic Plic { get; }
    public Aclint Clint { get; }
    public Ns16550 Uart { get; }
    public GoldfishRtc Rtc { get; }
    public SifiveTest Test { get; }

    /// <summary>The monitor's own SBI with <c>--bios builtin</c>; null when firmware runs in M-mode.</summary>
    public BuiltinSbi? Sbi { get; }
    /// <summary>The virtio-mmio slots, by slot number (slot n at <see cref="VirtioBase"/> + n·0x1000).</summary>
    public VirtioMmioTransport[] Virtio { get; }

    /// <summary>The virtio-blk devices, in configuration order.</summary>
    public IReadOnlyList<VirtioBlock> Disks { get; }

    /// <summary>The first virtio-console (the guest's hvc0), if any.</summary>
    public VirtioConsole? VirtioConsole { get; }

    /// <summary>The device tree given to the guest (also what <c>--dump-dtb</c> writes).</summary>
    public byte[] DeviceTree { get; private set; } = [];

    /// <summary>Where the images went (for diagnostics and tests).</summary>
    public BootLayout? Layout { get; private set; }

    /// <summary>The number of machine resets the guest asked for.</summary>
    public int Resets { get; private set; }

    /// <summary>Reads the configured images, places them as QEMU would, builds the device tree and fills
    /// RAM and ROM. Bad images raise <see cref="BootImageException"/> before anything runs.</summary>
    public void Load()
    {
        _images ??= BootImages.Read(Config);
        var images = _images;
        ulong fwStart = DramBase, fwEnd = DramBase;
        LoadPlan? firmwarePlan = null;
        if (images.Firmware is { } fw)
        {
            firmwarePlan = ElfImage.HasElfMagic(fw.Data.Span)
                ? ElfImage.Parse(fw.Name, fw.Data).Plan
                : RawImage.CreateLoadPlan(fw.Name, fw.Data, DramBase);
            firmwarePlan.CheckFitsInRam(DramBase, Config.MemorySize);
            fwStart = firmwarePlan.LowAddress;
            fwEnd = firmwarePlan.HighAddress;
        }
        else if (Sbi != null)
        {
            // No firmware in RAM, but the kernel goes where it goes after OpenSBI (see BuiltinSbi.KernelOffset).
            fwStart = fwEnd = DramBase + BuiltinSbi.KernelOffset;
        }

        // The device tree's size does not depend on addresses, so build it once to size it, then again.
        byte[] probe = BuildDeviceTree(null);
        var layout = BootLayout.Compute(new BootLayoutRequest
        {
            RamBase = DramBase,
            RamSize = Config.MemorySize,
            FirmwareStart = fwStart,
            FirmwareEnd = fwEnd,
            FirmwareName = images.Firmware?.Name ?? "firmware",
            Kernel = images.Kernel,
            InitrdSize = (ulong)(images.Initrd?.Data.Length ?? 0),
            InitrdName = images.Initrd?.Name ?? "initrd",
            FdtSize = (ulong)probe.Length,
        });
        Layout = layout;
        DeviceTree = BuildDeviceTree(layout.HasInitrd ? (layout.InitrdStart, layout.InitrdEnd) : null);

        // Devices stop doing DMA before RAM is cleared under them.
        foreach (VirtioMmioTransport t in Virtio) t.Reset();
        Dram.Clear();
        var writer = new RamWriter(Memory, DramBase, Config.MemorySize);
        firmwarePlan?.LoadInto(writer);
        layout.KernelPlan?.LoadInto(writer);
        if (images.Initrd is { } initrd)
            RawImage.CreateLoadPlan(initrd.Name, initrd.Data, layout.InitrdStart).LoadInto(writer);
        RawImage.CreateLoadPlan("device tree", DeviceTree, layout.FdtAddress).LoadInto(writer);

        ulong kernelEntry = images.Kernel != null ? layout.KernelEntry : 0;
        ulong start = firmwarePlan != null ? fwStart : kernelEntry;
        if (firmwarePlan == null && images.Kernel == null)
            throw new MachineConfigException("nothing to run: give a firmware (--bios) or a kernel (--kernel)");
        byte[] rom = BootRom.Build(start, layout.FdtAddress, kernelEntry);
        if (!Memory.TryLoad(BootRom.Base, rom)) throw new InvalidOperationException("boot ROM does not fit");
        ResetDevicesAndHarts();
        // The built-in SBI does what firmware would have done by now: the harts never run the ROM.
        Sbi?.PrepareHarts(kernelEntry, layout.FdtAddress);
    }

    private void ResetDevicesAndHarts()
    {
        // Harts first: the devices' resets drive the harts' pins (the CLINT hands each hart mtimecmp = 0), and a
        // hart reset afterwards would leave the pins disagreeing with the devices — which a snapshot would show.
        foreach (var h in Harts) h.Reset(BootRom.Base);
        Clock.Set(0);
        Plic.Reset();
        Clint.Reset();
        Uart.Reset();
        Rtc.Reset();
    }

    private byte[] BuildDeviceTree((ulong, ulong)? initrd) =>
        VirtDeviceTree.Build(new VirtDeviceTreeOptions
        {
            HartCount = Harts.Length,
            RiscvIsa = Hart.IsaString,
            MemoryBase = DramBase,
            MemorySize = Config.MemorySize,
            BootArgs = Config.BootArgs,
            StdoutPath = $"/soc/serial@{UartBase:x}",
            Initrd = initrd,
        },
        [
            new(RtcBase, Rtc), new(UartBase, Uart), new(TestBase, Test),
            // QEMU's order: the virtio-mmio slots from the highest down.
            .. Enumerable.Range(0, Virtio.Length).Reverse().Select(n => new DeviceTreeDevice(VirtioBase + (ulong)n * VirtioStride, Virtio[n])),
            new(PlicBase, Plic), new(ClintBase, Clint),
        ]);

    /// <summary>
    /// Host keyboard input, routed as <see cref="MachineConfig.InputConsole"/> says: to the virtio-console
    /// while its driver is running, otherwise to the UART. Waits while the chosen device's backlog is full
    /// (until the guest reads, or the machine stops). Callable from any thread but a hart's.
    /// </summary>
    public void EnqueueConsoleInput(ReadOnlySpan<byte> data)
    {
        while (true)
        {
            bool virtio = Config.InputConsole == ConsoleDevice.Virtio && VirtioConsole is { IsDriverReady: true };
            int taken = virtio ? VirtioConsole!.TryEnqueueInput(data) : Uart.TryEnqueueInput(data);
            data = data[taken..];
            if (data.IsEmpty || _powerEvent.IsSet) return;
            if (taken == 0) Thread.Sleep(10);
        }
    }

    /// <summary>A power-off, failure or reset request from the guest (test device, SBI SRST, HTIF).</summary>
    public void RequestPower(PowerRequest request)
    {
        lock (_runLock)
        {
            // The first request wins; a reset is not overridden by a later power-off from another hart.
            _powerRequest ??= request;
            // Under the lock: Run clears stop requests only under it, and never with a request pending.
            foreach (var h in Harts) h.RequestStop();
            _powerEvent.Set();
            _stopEvent.Set();
            Monitor.PulseAll(_runLock);
        }
    }

    /// <summary>Runs the machine until the guest powers it off (or <paramref name="cancel"/> fires), handling
    /// resets and pauses: while the machine is paused (<see cref="Pause"/>) this waits for <see cref="Resume"/>.
    /// A machine restored from a snapshot continues from it. Returns the guest's exit code: 0 for a clean power-off.</summary>
    public int Run(CancellationToken cancel = default)
    {
        lock (_runLock)
        {
            if (_running) throw new InvalidOperationException("the machine is already running");
            _running = true;
        }
        try
        {
            using var reg = cancel.Register(() => RequestPower(new PowerRequest(PowerRequestKind.Fail, 130)));
            while (true)
            {
                PowerRequest? request;
                lock (_runLock)
                {
                    _runnerBusy = false;
                    Monitor.PulseAll(_runLock);
                    // While paused, only a power-off or failure is carried out (it changes nothing in the machine);
                    // a reset would, so it waits for Resume.
                    while (_pauseRequested && _powerRequest is null or { Kind: PowerRequestKind.Reset })
                        Monitor.Wait(_runLock);
                    _runnerBusy = true;
                    request = _powerRequest;
                    if (request == null) StartHarts();
                }
                if (request == null)
                {
                    _stopEvent.Wait();
                    JoinHarts();
                    if (_hartFailure != null)
                        throw new MachineFailureException("internal error in the hart thread", _hartFailure);
                    lock (_runLock) request = _powerRequest;
                    if (request == null) continue; // a pause
                }
                lock (_runLock)
                {
                    _powerRequest = null;
                    _powerEvent.Reset();
                }
                if (request.Value.Kind == PowerRequestKind.Reset)
                {
                    Resets++;
                    Load();
                    continue;
                }
                return request.Value.Kind == PowerRequestKind.PowerOff ? 0 : request.Value.ExitCode;
            }
        }
        finally
        {
            lock (_runLock)
            {
                _running = false;
                _runnerBusy = false;
                Monitor.PulseAll(_runLock);
            }
        }
    }

    /// <summary>Starts a thread per hart. Under <see cref="_runLock"/>, with no power request pending.</summary>
    private void StartHarts()
    {
        _stopEvent.Reset();
        _threads.Clear();
        foreach (var h in Harts)
        {
            h.ClearStop();
            var t = new Thread(() => RunHart(h)) { IsBackground = true, Name = $"hart{h.HartId}" };
            _threads.Add(t);
            t.Start();
        }
    }

    private void RunHart(Hart h)
    {
        _hartOfThisThread = this;
        try
        {
            h.Run();
        }
        catch (Exception e)
        {
            _hartFailure ??= e;
            RequestPower(new PowerRequest(PowerRequestKind.Fail, 70));
        }
    }

    private void JoinHarts()
    {
        foreach (var t in _threads) t.Join();
        _threads.Clear();
    }

    /// <summary>Stops the machine and releases it. A <see cref="Run"/> still going on another thread (a paused
    /// one included) is ended as by a failure (exit code 1) and waited for.</summary>
    public void Dispose()
    {
        lock (_runLock)
        {
            if (_disposed) return;
            _disposed = true;
            foreach (var h in Harts) h.RequestStop();
            if (_running)
            {
                if (_powerRequest is null or { Kind: PowerRequestKind.Reset }) _powerRequest = new PowerRequest(PowerRequestKind.Fail, 1);
                _powerEvent.Set();
                _stopEvent.Set();
                Monitor.PulseAll(_runLock);
                var deadline = DateTime.UtcNow.AddSeconds(30);
                while (_running && DateTime.UtcNow < deadline) Monitor.Wait(_runLock, 100);
            }
        }
        JoinHarts();
        foreach (var h in Harts) h.Dispose();
        Translator?.Dispose();
        // Device workers stop before the RAM they write into goes away.
        foreach (VirtioMmioTransport t in Virtio) t.Dispose();
        Rtc.Dispose();
        Dram.Dispose();
        Rom.Dispose();
        _powerEvent.Dispose();
        _stopEvent.Dispose();
    }

    private sealed class RamWriter(GuestMemory memory, ulong ramBase, ulong ramSize) : IPhysicalMemoryWriter
    {
        public ulong RamBase => ramBase;
        public ulong RamSize => ramSize;
        public bool TryWrite(ulong address, ReadOnlySpan<byte> data) => memory.TryWrite(address, data);
    }
}

/// <summary>A configuration the machine cannot be built from (a user error, reported in one line).</summary>
public sealed class MachineConfigException(string message) : Exception(message);

/// <summary>The emulator itself failed (a bug, not a guest error).</summary>
public sealed class MachineFailureException(string message, Exception inner) : Exception(message, inner);
