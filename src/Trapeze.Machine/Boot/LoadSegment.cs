namespace Trapeze.Machine.Boot;

/// <summary>
/// One piece of a <see cref="LoadPlan"/>: <see cref="Data"/> copied to guest-physical <see cref="Address"/>,
/// then zeros up to <see cref="MemorySize"/> bytes (an ELF segment's <c>.bss</c> tail).
/// <see cref="Data"/> is a slice of the file, not a copy.
/// </summary>
public readonly struct LoadSegment
{
    public LoadSegment(ulong address, ReadOnlyMemory<byte> data, ulong memorySize)
    {
        if ((ulong)data.Length > memorySize)
        {
            throw new ArgumentOutOfRangeException(nameof(memorySize), "memory size is smaller than the data");
        }

        if (memorySize > ulong.MaxValue - address)
        {
            throw new ArgumentOutOfRangeException(nameof(memorySize), "segment wraps the address space");
        }

        Address = address;
        Data = data;
        MemorySize = memorySize;
    }

    /// <summary>Guest-physical load address.</summary>
    public ulong Address { get; }

    /// <summary>Bytes taken from the file.</summary>
    public ReadOnlyMemory<byte> Data { get; }

    /// <summary>Bytes the segment occupies in memory (data plus zero fill).</summary>
    public ulong MemorySize { get; }

    /// <summary>Zero bytes written after <see cref="Data"/>.</summary>
    public ulong ZeroFillSize => MemorySize - (ulong)Data.Length;

    /// <summary>First address past the segment.</summary>
    public ulong End => Address + MemorySize;

    public override string ToString() =>
        $"{BootFormat.Range(Address, End)} file {BootFormat.Hex((ulong)Data.Length)} zero {BootFormat.Hex(ZeroFillSize)}";
}
