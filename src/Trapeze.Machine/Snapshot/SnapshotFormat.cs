namespace Trapeze.Machine.Snapshot;

/// <summary>
/// The snapshot file format (DESIGN.md, "The monitor around the machine"; STYLE rule 8). All integers are
/// little-endian.
/// <code>
/// file    = magic "TRPZSNAP" | u32 version | u32 kind | section* | end section | u64 XxHash3 of all bytes before it
/// section = u32 tag | u32 length | payload[length] | u64 XxHash3 of the payload
/// </code>
/// The sections come in a fixed order: the machine description (what must match: memory size, harts, firmware
/// kind, hart state layout, the virtio slots), then the component states (clock, each hart, PLIC, CLINT, UART,
/// RTC, the built-in SBI if present, each virtio slot) and the boot ROM, then RAM in chunks of up to
/// <see cref="PagesPerChunk"/> pages, in increasing address order, each with a bitmap of the pages it holds and
/// those pages compressed with LZ4. Which parts a file holds is its <see cref="SnapshotKind"/>. A reader checks
/// each section's hash before parsing it and the file's hash at the end; every length and count is bounded
/// before anything is allocated.
/// </summary>
internal static class SnapshotFormat
{
    public static ReadOnlySpan<byte> Magic => "TRPZSNAP"u8;

    /// <summary>Bumped whenever any section's encoding changes; a reader accepts only its own.</summary>
    public const uint Version = 1;

    public const int HeaderSize = 16;
    public const int SectionHeaderSize = 8;
    public const int SectionTrailerSize = 8;
    public const int FileTrailerSize = 8;

    /// <summary>No section is larger: a RAM chunk is at most 4 MiB of pages before compression.</summary>
    public const int MaxSectionLength = 8 << 20;

    public const int PageSize = 4096;
    public const int PagesPerChunk = 1024;
}

/// <summary>What a snapshot file holds.</summary>
public enum SnapshotKind : uint
{
    /// <summary>A whole machine: description, component states and RAM (RAM not in the file is zero).</summary>
    Full = 1,
    /// <summary>Description and component states, no RAM (the end of a migration).</summary>
    State = 2,
    /// <summary>Description and some RAM pages; pages not in the file are left as they are (migration rounds).</summary>
    Ram = 3,
}

/// <summary>Section tags, in the order sections appear.</summary>
internal enum SectionTag : uint
{
    Description = 1,
    Clock = 2,
    Hart = 3,
    Plic = 4,
    Clint = 5,
    Uart = 6,
    Rtc = 7,
    Sbi = 8,
    Virtio = 9,
    Ram = 10,
    /// <summary>The boot ROM, in the RAM chunk format: what the board put there at boot (a restored machine
    /// is never loaded, so its ROM comes from the snapshot).</summary>
    Rom = 11,
    End = 0xffff_ffff,
}
