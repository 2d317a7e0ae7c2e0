using Trapeze.Core.Memory;
using Trapeze.Devices.Power;

namespace Trapeze.Machine;

/// <summary>
/// The host-target interface of Spike, riscv-tests and TinyEMU: the guest writes commands to the 64-bit
/// <c>tohost</c> word (found by symbol in the program's ELF). Device 0 command 0 with bit 0 set is
/// "exit with code value >> 1"; device 1 command 1 writes a character to the console. Writes to the page
/// are reported through the bus's write watch, so polling is never needed.
/// </summary>
public sealed class Htif
{
    private readonly GuestMemory _memory;
    private readonly ulong _tohost;
    private readonly ulong? _fromhost;
    private readonly Action<byte> _console;
    private readonly Action<PowerRequest> _power;

    public Htif(VirtMachine machine, ulong tohost, ulong? fromhost, Action<byte> console)
    {
        if (!machine.Dram.Contains(tohost, 8) || (tohost & 7) != 0)
            throw new MachineConfigException($"tohost at 0x{tohost:x} is not an aligned address in RAM");
        _memory = machine.Memory;
        _tohost = tohost;
        _fromhost = fromhost is { } f && machine.Dram.Contains(f, 8) ? f : null;
        _console = console;
        _power = machine.RequestPower;
        machine.Bus.WriteWatch = OnWrite;
        machine.Bus.SetWriteWatch(tohost, true);
    }

    /// <summary>The test number of the last failure reported (value >> 1), or null.</summary>
    public ulong? ExitValue { get; private set; }

    private void OnWrite(ulong pa, int size)
    {
        if (pa >= _tohost + 8 || pa + (ulong)size <= _tohost) return;
        if (!_memory.TryReadU64(_tohost, out ulong v) || v == 0) return;
        ulong device = v >> 56, command = (v >> 48) & 0xff, payload = v & 0xffff_ffff_ffff;
        if (device == 0 && command == 0 && (payload & 1) != 0)
        {
            ExitValue = payload >> 1;
            ulong code = payload >> 1;
            _power(code == 0
                ? new PowerRequest(PowerRequestKind.PowerOff, 0)
                : new PowerRequest(PowerRequestKind.Fail, (int)Math.Min(code, 255)));
            return;
        }
        if (device == 1 && command == 1)
        {
            _console((byte)payload);
            _memory.TryWriteU64(_tohost, 0);
            if (_fromhost is { } f) _memory.TryWriteU64(f, (1UL << 56) | (1UL << 48));
            return;
        }
        // Unknown command (e.g. the proxy-kernel system calls): acknowledge so the guest does not hang.
        _memory.TryWriteU64(_tohost, 0);
    }
}
