namespace Trapeze.Core.Memory;

/// <summary>
/// A device register window on the system bus. Offsets are relative to the window's base; the bus
/// only forwards accesses that lie wholly inside <see cref="Size"/>. Implementations must be
/// thread-safe: several harts may access a device at once, and device threads may run beside them.
/// </summary>
public interface IMmioDevice
{
    /// <summary>Short name used in diagnostics and exit statistics ("uart0", "plic").</summary>
    string Name { get; }

    /// <summary>Size of the register window in bytes.</summary>
    ulong Size { get; }

    /// <summary>Reads <paramref name="size"/> bytes (1, 2, 4 or 8). Returns false for an access the
    /// device does not accept (the hart then raises an access fault).</summary>
    bool Read(ulong offset, int size, out ulong value);

    /// <summary>Writes the low <paramref name="size"/> bytes of <paramref name="value"/>. Returns false
    /// for an access the device does not accept.</summary>
    bool Write(ulong offset, int size, ulong value);
}
