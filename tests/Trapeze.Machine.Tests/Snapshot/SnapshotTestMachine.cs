using System.Buffers.Binary;
using Trapeze.Core.Cpu;

namespace Trapeze.Machine.Tests.Snapshot;

/// <summary>Small machines running tiny M-mode programs (no firmware: the boot ROM jumps to the raw "kernel"),
/// for pause and snapshot tests that need a machine that really runs but no guest images.</summary>
public sealed class SnapshotTestMachine : IDisposable
{
    /// <summary>loop: addi a0, a0, 1; j loop — a0 counts as fast as the hart runs.</summary>
    public static readonly uint[] CountingLoop = [0x0015_0513, 0xffdf_f06f];

    /// <summary>loop: wfi; j loop — with mie = 0 the hart sleeps for good.</summary>
    public static readonly uint[] WfiLoop = [0x1050_0073, 0xffdf_f06f];

    private readonly string _dir;
    private Task<int>? _run;

    /// <summary>lui t0, 0x10000; li t1, 'A'; loop: sb t1, 0(t0); j loop — writes to the UART for good.</summary>
    public static readonly uint[] UartLoop = [0x1000_02b7, 0x0410_0313, 0x0062_8023, 0xffdf_f06f];

    public SnapshotTestMachine(uint[] program, int harts = 1, bool load = true, Func<MachineConfig, MachineConfig>? configure = null,
        Action<VirtMachine, byte>? output = null)
    {
        _dir = Directory.CreateTempSubdirectory("trapeze-snap-").FullName;
        string kernel = Path.Combine(_dir, "program.bin");
        var bytes = new byte[program.Length * 4];
        for (int i = 0; i < program.Length; i++) BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4 * i), program[i]);
        File.WriteAllBytes(kernel, bytes);
        Config = new MachineConfig
        {
            Firmware = FirmwareKind.None,
            KernelPath = kernel,
            MemorySize = 16 << 20,
            Harts = harts,
            Jit = false,
            VirtioDevices = [VirtioDeviceKind.Rng, VirtioDeviceKind.Console],
        };
        if (configure != null) Config = configure(Config);
        Machine = new VirtMachine(Config, b => output?.Invoke(Machine!, b));
        if (load) Machine.Load();
    }

    public MachineConfig Config { get; }

    public VirtMachine Machine { get; }

    public Task<int> Start()
    {
        _run = Task.Factory.StartNew(() => Machine.Run(), TaskCreationOptions.LongRunning);
        return _run;
    }

    public unsafe ulong A0(int hart = 0) => Volatile.Read(ref Machine.Harts[hart].State->X[10]);

    /// <summary>Waits until a0 of hart 0 passes <paramref name="value"/>.</summary>
    public void WaitForA0(ulong value)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (A0() <= value)
        {
            Assert.True(DateTime.UtcNow < deadline, $"a0 stayed at {A0()}");
            Assert.False(_run is { IsCompleted: true }, "the machine stopped");
            Thread.Sleep(1);
        }
    }

    public void Dispose()
    {
        if (_run is { IsCompleted: false })
        {
            Machine.RequestPower(new Trapeze.Devices.Power.PowerRequest(Trapeze.Devices.Power.PowerRequestKind.Fail, 1));
            _run.Wait(TimeSpan.FromSeconds(10));
        }
        Machine.Dispose();
        try { Directory.Delete(_dir, true); }
        catch (IOException) { }
    }

    public static unsafe ulong Pc(Hart h) => h.State->Pc;
}
