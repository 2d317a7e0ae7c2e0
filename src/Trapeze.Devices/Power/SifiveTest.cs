using Trapeze.Core.Memory;
using Trapeze.Devices.Fdt;

namespace Trapeze.Devices.Power;

/// <summary>What the guest asked of the test finisher.</summary>
public enum PowerRequestKind
{
    /// <summary>0x5555: pass, power off (exit code 0).</summary>
    PowerOff,
    /// <summary>0x3333 | code &lt;&lt; 16: fail, power off with the given exit code.</summary>
    Fail,
    /// <summary>0x7777: reset the machine.</summary>
    Reset,
}

/// <summary>A request from the guest to power off or reset, with the exit code for the VMM.</summary>
public readonly record struct PowerRequest(PowerRequestKind Kind, int ExitCode);

/// <summary>
/// SiFive test finisher (<c>sifive,test0</c>/<c>sifive,test1</c>, also a <c>syscon</c> for Linux's
/// syscon-poweroff and syscon-reboot) as on QEMU's virt board. A 16- or 32-bit write to offset 0 with
/// status 0x5555 powers off, 0x3333 fails with the exit code in bits 31:16, 0x7777 resets; other values
/// are ignored. Reads return 0. The board learns of requests through the callback.
/// </summary>
public sealed class SifiveTest : IMmioDevice, IDeviceTreeNode
{
    public const ulong WindowSize = 0x1000;
    public const uint StatusFail = 0x3333;
    public const uint StatusPass = 0x5555;
    public const uint StatusReset = 0x7777;

    private readonly object _lock = new();
    private readonly Action<PowerRequest>? _onRequest;
    private PowerRequest? _lastRequest;

    /// <param name="onRequest">Called on the writing hart's thread for every request: it should only
    /// signal the VMM (stop the harts, reset the board), not wait for that to happen.</param>
    public SifiveTest(Action<PowerRequest>? onRequest, string name = "test")
    {
        _onRequest = onRequest;
        Name = name;
    }

    public string Name { get; }

    public ulong Size => WindowSize;

    /// <summary>The last request the guest made, if any (for a VMM that polls instead).</summary>
    public PowerRequest? LastRequest
    {
        get { lock (_lock) return _lastRequest; }
    }

    public bool Read(ulong offset, int size, out ulong value)
    {
        value = 0;
        return MmioAccess.IsValid(offset, size, 2, 4, WindowSize);
    }

    public bool Write(ulong offset, int size, ulong value)
    {
        if (!MmioAccess.IsValid(offset, size, 2, 4, WindowSize)) return false;
        if (offset != 0) return true;
        value = MmioAccess.Truncate(value, size);
        uint status = (uint)value & 0xffff;
        int code = (int)((value >> 16) & 0xffff);
        PowerRequest request;
        switch (status)
        {
            case StatusPass:
                request = new PowerRequest(PowerRequestKind.PowerOff, 0);
                break;
            case StatusFail:
                request = new PowerRequest(PowerRequestKind.Fail, code);
                break;
            case StatusReset:
                request = new PowerRequest(PowerRequestKind.Reset, 0);
                break;
            default:
                return true;
        }
        lock (_lock) _lastRequest = request;
        _onRequest?.Invoke(request);
        return true;
    }

    /// <summary>Adds <c>test@…</c> (a syscon with a phandle) under the current node, and the
    /// <c>/poweroff</c> and <c>/reboot</c> syscon nodes that point at it, as QEMU virt does.</summary>
    public void AddTo(FdtBuilder fdt, DeviceTreeContext context)
    {
        uint phandle = fdt.AllocatePhandle();
        fdt.BeginNode($"test@{context.UnitAddress}");
        fdt.PropertyU32("phandle", phandle);
        fdt.PropertyCells("reg", context.BaseAddress, WindowSize);
        fdt.PropertyStringList("compatible", "sifive,test1", "sifive,test0", "syscon");
        fdt.EndNode();

        AddSysconNode(fdt, "/poweroff", "syscon-poweroff", StatusPass, phandle);
        AddSysconNode(fdt, "/reboot", "syscon-reboot", StatusReset, phandle);
    }

    private static void AddSysconNode(FdtBuilder fdt, string path, string compatible, uint value, uint regmap)
    {
        fdt.BeginNode(path);
        fdt.PropertyU32("value", value);
        fdt.PropertyU32("offset", 0);
        fdt.PropertyU32("regmap", regmap);
        fdt.PropertyString("compatible", compatible);
        fdt.EndNode();
    }
}
