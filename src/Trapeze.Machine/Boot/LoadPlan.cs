namespace Trapeze.Machine.Boot;

/// <summary>
/// Where the bytes of one boot image go in guest-physical memory, and where it starts. Produced by the parsers
/// (<see cref="ElfImage"/>, <see cref="LinuxImage"/>, <see cref="RawImage"/>); carried out by
/// <see cref="LoadInto"/>, which checks the whole plan against RAM before writing anything.
/// </summary>
public sealed class LoadPlan
{
    private static readonly byte[] Zeros = new byte[64 * 1024];

    public LoadPlan(string displayName, IReadOnlyList<LoadSegment> segments, ulong entryPoint)
    {
        ArgumentNullException.ThrowIfNull(displayName);
        ArgumentNullException.ThrowIfNull(segments);

        ulong low = ulong.MaxValue;
        ulong high = 0;
        foreach (var segment in segments)
        {
            if (segment.MemorySize == 0)
            {
                continue;
            }

            low = Math.Min(low, segment.Address);
            high = Math.Max(high, segment.End);
        }

        if (low > high)
        {
            throw new ArgumentException("a load plan needs at least one non-empty segment", nameof(segments));
        }

        DisplayName = displayName;
        Segments = segments;
        EntryPoint = entryPoint;
        LowAddress = low;
        HighAddress = high;
    }

    /// <summary>File name used in error messages.</summary>
    public string DisplayName { get; }

    public IReadOnlyList<LoadSegment> Segments { get; }

    /// <summary>Guest-physical address execution starts at.</summary>
    public ulong EntryPoint { get; }

    /// <summary>Lowest address any non-empty segment occupies.</summary>
    public ulong LowAddress { get; }

    /// <summary>First address past the highest non-empty segment (QEMU's <c>highaddr</c>).</summary>
    public ulong HighAddress { get; }

    /// <summary>Throws <see cref="BootImageException"/> ("does not fit in RAM: needs ... bytes at ..., RAM ends at
    /// ...") for the first segment that leaves <c>[ramBase, ramBase + ramSize)</c>.</summary>
    public void CheckFitsInRam(ulong ramBase, ulong ramSize)
    {
        ulong ramEnd = BootFormat.RamEnd(ramBase, ramSize);
        foreach (var segment in Segments)
        {
            if (segment.MemorySize != 0)
            {
                BootFormat.CheckInRam(DisplayName, segment.Address, segment.MemorySize, ramBase, ramEnd);
            }
        }
    }

    /// <summary>Copies every segment into guest memory and zero-fills its tail. All segments are checked
    /// against RAM first, so a plan that does not fit writes nothing.</summary>
    public void LoadInto(IPhysicalMemoryWriter memory)
    {
        ArgumentNullException.ThrowIfNull(memory);
        CheckFitsInRam(memory.RamBase, memory.RamSize);

        foreach (var segment in Segments)
        {
            if (!segment.Data.IsEmpty && !memory.TryWrite(segment.Address, segment.Data.Span))
            {
                throw WriteFailed(segment.Address, (ulong)segment.Data.Length);
            }

            ulong address = segment.Address + (ulong)segment.Data.Length;
            ulong remaining = segment.ZeroFillSize;
            while (remaining != 0)
            {
                int chunk = (int)Math.Min(remaining, (ulong)Zeros.Length);
                if (!memory.TryWrite(address, Zeros.AsSpan(0, chunk)))
                {
                    throw WriteFailed(address, (ulong)chunk);
                }

                address += (ulong)chunk;
                remaining -= (ulong)chunk;
            }
        }
    }

    private BootImageException WriteFailed(ulong address, ulong size) =>
        BootImageException.For(DisplayName,
            $"write of {BootFormat.Hex(size)} bytes at {BootFormat.Hex(address)} was refused by guest memory");
}
