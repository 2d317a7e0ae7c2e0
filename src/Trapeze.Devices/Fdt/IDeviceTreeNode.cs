namespace Trapeze.Devices.Fdt;

/// <summary>
/// A device that describes itself in the device tree (STYLE rule 6: devices own their wiring).
/// <see cref="AddTo"/> is called with the builder positioned inside the bus node (<c>/soc</c> on the
/// virt board); the device adds its own node there and may add nodes elsewhere by absolute path.
/// </summary>
public interface IDeviceTreeNode
{
    void AddTo(FdtBuilder fdt, DeviceTreeContext context);
}

/// <summary>
/// What a device needs from the board to write its node: where it is mapped, and the phandles of the
/// interrupt controllers it connects to.
/// </summary>
/// <param name="BaseAddress">Guest-physical base of the device's register window.</param>
/// <param name="InterruptParent">Phandle of the PLIC (the parent of device interrupts). The PLIC uses
/// it as its own phandle.</param>
/// <param name="CpuInterruptControllers">Phandle of each hart's <c>riscv,cpu-intc</c> node, indexed by
/// hart id (used by the CLINT and the PLIC for <c>interrupts-extended</c>).</param>
public sealed record DeviceTreeContext(ulong BaseAddress, uint InterruptParent, IReadOnlyList<uint> CpuInterruptControllers)
{
    /// <summary>The unit-address form of <see cref="BaseAddress"/>: lower-case hex, no leading zeros.</summary>
    public string UnitAddress => BaseAddress.ToString("x");

    /// <summary>The same context for a device at another address.</summary>
    public DeviceTreeContext At(ulong baseAddress) => this with { BaseAddress = baseAddress };
}
