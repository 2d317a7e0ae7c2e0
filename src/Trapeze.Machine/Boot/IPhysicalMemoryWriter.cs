namespace Trapeze.Machine.Boot;

/// <summary>
/// What a <see cref="LoadPlan"/> needs from the board to put an image into guest RAM. The board implements it
/// over its <c>GuestMemory</c>; tests implement it over an array.
/// </summary>
public interface IPhysicalMemoryWriter
{
    /// <summary>Guest-physical address of the first byte of RAM.</summary>
    ulong RamBase { get; }

    /// <summary>Size of RAM in bytes.</summary>
    ulong RamSize { get; }

    /// <summary>Copies <paramref name="data"/> to guest-physical <paramref name="address"/>; false when any byte
    /// of the range is not writable RAM (nothing need be written then).</summary>
    bool TryWrite(ulong address, ReadOnlySpan<byte> data);
}
