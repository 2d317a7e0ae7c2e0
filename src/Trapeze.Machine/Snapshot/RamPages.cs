namespace Trapeze.Machine.Snapshot;

/// <summary>Single pages of a machine's RAM by index from its start (page i is at DRAM base + i·4096): what a
/// live migration moves between rounds of dirty-page tracking.</summary>
public static class RamPages
{
    public const int PageSize = SnapshotFormat.PageSize;

    /// <summary>Pages of RAM the machine has.</summary>
    public static ulong Count(VirtMachine machine)
    {
        ArgumentNullException.ThrowIfNull(machine);
        return machine.Dram.Size / PageSize;
    }

    /// <summary>Copies page <paramref name="page"/> into <paramref name="destination"/> (4096 bytes). Safe while
    /// the guest runs (the copy may then mix old and new bytes of a page being written: send it again later).</summary>
    public static void Read(VirtMachine machine, ulong page, Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(machine);
        Check(machine, page, destination.Length);
        machine.Dram.AsSpan(page * PageSize, PageSize).CopyTo(destination);
    }

    /// <summary>Writes page <paramref name="page"/> from <paramref name="source"/> (4096 bytes); code decoded from
    /// it becomes stale. The machine must not be running.</summary>
    public static void Write(VirtMachine machine, ulong page, ReadOnlySpan<byte> source)
    {
        ArgumentNullException.ThrowIfNull(machine);
        Check(machine, page, source.Length);
        source.CopyTo(machine.Dram.AsSpan(page * PageSize, PageSize));
        machine.Dram.NoteWrite(machine.Dram.Base + page * PageSize, PageSize);
    }

    private static void Check(VirtMachine machine, ulong page, int length)
    {
        if (page >= Count(machine)) throw new ArgumentOutOfRangeException(nameof(page), $"page {page} is outside RAM ({Count(machine)} pages)");
        if (length != PageSize) throw new ArgumentException($"a page is {PageSize} bytes, not {length}");
    }
}
