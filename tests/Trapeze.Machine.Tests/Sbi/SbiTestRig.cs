using Trapeze.Core.Cpu;
using Trapeze.Core.Memory;
using Trapeze.Devices.Power;
using Trapeze.Machine.Sbi;

namespace Trapeze.Machine.Tests.Sbi;

/// <summary>A debug console that records what is written and serves queued input.</summary>
internal sealed class FakeConsole : IDebugConsole
{
    private readonly object _lock = new();
    private readonly List<byte> _written = [];
    private readonly Queue<byte> _input = new();

    public byte[] Written { get { lock (_lock) return [.. _written]; } }

    public void Type(string text)
    {
        lock (_lock) foreach (char c in text) _input.Enqueue((byte)c);
    }

    public void Write(ReadOnlySpan<byte> data)
    {
        lock (_lock) foreach (byte b in data) _written.Add(b);
    }

    public int Read(Span<byte> destination)
    {
        lock (_lock)
        {
            int n = 0;
            while (n < destination.Length && _input.Count > 0) destination[n++] = _input.Dequeue();
            return n;
        }
    }
}

/// <summary>
/// Harts, 1 MiB of RAM at 0x8000_0000 and a ROM page, with the built-in SBI attached and the harts prepared
/// as for a kernel at <see cref="Entry"/>. SBI calls are made by setting a hart's registers and calling the
/// handler directly, on the test's thread (which then plays that hart's thread).
/// </summary>
internal sealed unsafe class SbiTestRig : IDisposable
{
    public const ulong RamBase = 0x8000_0000, RamSize = 1 << 20, RomBase = 0x1000;
    public const ulong Entry = RamBase + 0x1_0000, Fdt = RamBase + 0xf_0000;

    private readonly List<Thread> _threads = [];

    public SbiTestRig(int harts = 2)
    {
        Bus = new Bus();
        Ram = new GuestRam("dram", RamBase, RamSize);
        Rom = new GuestRam("rom", RomBase, 0x1000, readOnly: true);
        Bus.AddMemory(Rom);
        Bus.AddMemory(Ram, isDram: true);
        Memory = new GuestMemory(Bus);
        Clock = new MachineClock();
        Harts = new Hart[harts];
        for (int i = 0; i < harts; i++)
        {
            Harts[i] = new Hart(i, Bus, Clock);
            Harts[i].Reset(RomBase);
        }
        Sbi = new BuiltinSbi(Harts, Memory, Console, Power.Add);
        Sbi.PrepareHarts(Entry, Fdt);
    }

    public Bus Bus { get; }
    public GuestRam Ram { get; }
    public GuestRam Rom { get; }
    public GuestMemory Memory { get; }
    public MachineClock Clock { get; }
    public Hart[] Harts { get; }
    public BuiltinSbi Sbi { get; }
    public FakeConsole Console { get; } = new();
    public List<PowerRequest> Power { get; } = [];

    /// <summary>Makes an SBI call from <paramref name="hart"/> (a7 = eid, a6 = fid, a0.. = args) and returns
    /// (a0, a1) as signed error and value.</summary>
    public (long Error, ulong Value) Call(int hart, ulong eid, ulong fid, params ulong[] args)
    {
        HartState* s = Harts[hart].State;
        s->X[17] = eid;
        s->X[16] = fid;
        for (int i = 0; i < args.Length; i++) s->X[10 + i] = args[i];
        Assert.True(Sbi.Handle(Harts[hart]));
        return ((long)s->X[10], s->X[11]);
    }

    public ulong X(int hart, int reg) => Harts[hart].State->X[reg];

    public ulong Csr(int hart, ushort csr)
    {
        Assert.True(Harts[hart].CsrRead(csr, out ulong v));
        return v;
    }

    /// <summary>Writes instructions at <paramref name="address"/>.</summary>
    public void Code(ulong address, params uint[] insns)
    {
        var bytes = new byte[insns.Length * 4];
        for (int i = 0; i < insns.Length; i++) BitConverter.TryWriteBytes(bytes.AsSpan(4 * i), insns[i]);
        Assert.True(Memory.TryWrite(address, bytes));
    }

    /// <summary>Runs a hart's loop on its own thread (as the board does).</summary>
    public Thread RunOnThread(int hart)
    {
        var t = new Thread(() => Harts[hart].Run()) { IsBackground = true, Name = $"test-hart{hart}" };
        _threads.Add(t);
        t.Start();
        return t;
    }

    /// <summary>Stops every hart thread; false if one did not end within the timeout (a deadlock).</summary>
    public bool StopAll(TimeSpan timeout)
    {
        foreach (var h in Harts) h.RequestStop();
        var deadline = DateTime.UtcNow + timeout;
        foreach (var t in _threads)
        {
            var left = deadline - DateTime.UtcNow;
            if (left < TimeSpan.Zero || !t.Join(left)) return false;
        }
        _threads.Clear();
        return true;
    }

    public static void WaitUntil(Func<bool> condition, string what, int timeoutMs = 10_000)
    {
        var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            Thread.Sleep(1);
        }
    }

    public void Dispose()
    {
        StopAll(TimeSpan.FromSeconds(10));
        foreach (var h in Harts) h.Dispose();
        Ram.Dispose();
        Rom.Dispose();
    }
}

/// <summary>Encodings of the few instructions the SBI tests run.</summary>
internal static class Rv
{
    public const uint Ecall = 0x0000_0073, Wfi = 0x1050_0073;
    public const int A0 = 10, A1 = 11, A2 = 12, A3 = 13, A6 = 16, A7 = 17, S0 = 8, Zero = 0;

    public static uint Addi(int rd, int rs1, int imm) => (uint)(imm & 0xfff) << 20 | (uint)rs1 << 15 | (uint)rd << 7 | 0x13;

    public static uint Lui(int rd, uint imm20) => imm20 << 12 | (uint)rd << 7 | 0x37;

    /// <summary>JAL rd, offset (bytes, even, within ±1 MiB).</summary>
    public static uint Jal(int rd, int offset)
    {
        uint o = (uint)offset;
        return ((o >> 20) & 1) << 31 | ((o >> 1) & 0x3ff) << 21 | ((o >> 11) & 1) << 20 | ((o >> 12) & 0xff) << 12
            | (uint)rd << 7 | 0x6f;
    }

    /// <summary>a7 = a 32-bit extension ID (lui + addi, the addi's sign taken into account).</summary>
    public static uint[] LoadA7(ulong eid)
    {
        uint low = (uint)eid & 0xfff;
        uint high = ((uint)eid + (low >= 0x800 ? 0x1000u : 0)) >> 12;
        return [Lui(A7, high), Addi(A7, A7, (int)(low >= 0x800 ? low - 0x1000 : low))];
    }
}
