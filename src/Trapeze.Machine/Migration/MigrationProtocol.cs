using System.Buffers.Binary;
using System.Text;

namespace Trapeze.Machine.Migration;

/// <summary>The kinds of frame on a migration stream.</summary>
public enum FrameType : uint
{
    /// <summary>Source to destination, first: magic, version, the machine description.</summary>
    Hello = 1,
    /// <summary>Destination to source: accepted, or refused with a reason.</summary>
    HelloReply = 2,
    /// <summary>A batch of pages of one memory region.</summary>
    Pages = 3,
    /// <summary>The end of a round: its number and the pages it carried.</summary>
    RoundEnd = 4,
    /// <summary>A piece of the machine state besides RAM (harts, devices), sent while the source is paused.</summary>
    State = 5,
    /// <summary>The end of the state: its total length and checksum.</summary>
    StateEnd = 6,
    /// <summary>The end of the migration: totals the destination checks against what it received.</summary>
    Done = 7,
    /// <summary>Destination to source: the guest runs on the destination.</summary>
    Resumed = 8,
    /// <summary>Either way: the migration is abandoned, with a reason.</summary>
    Error = 9,
    /// <summary>A batch of blocks of one writable disk.</summary>
    DiskBlocks = 10,
}

/// <summary>
/// The wire format of a live migration. Every message is a frame: type (u32), payload length (u32), CRC-32C
/// of type, length and payload (u32), then the payload; all integers little-endian. Lengths are bounded by
/// <see cref="MaxPayload"/> and checked before anything is allocated, and a frame whose checksum does not
/// match is refused, so a corrupted or hostile stream is detected instead of being written into the guest.
/// <para>
/// Order: Hello → HelloReply; rounds of Pages and DiskBlocks ending in RoundEnd (round 1 all non-zero pages and
/// disk blocks, later rounds those written meanwhile, the last one while the source is paused); State pieces,
/// StateEnd; Done → Resumed.
/// </para>
/// <para>
/// Writable disks are copied like RAM, in blocks of <see cref="DiskBlockSize"/> bytes: a DiskBlocks payload is
/// the disk's index among the machine's disks (u32), a count (u32), then per block its index (u64; bit 63 set:
/// the block reads as zeroes and no data follows) and its data (a whole block, or what is left of the disk
/// for the last one). The destination's writable disks start out as new, empty images of the same size.
/// </para>
/// </summary>
public static class MigrationProtocol
{
    /// <summary>"TRPZMIGR" little-endian.</summary>
    public const ulong Magic = 0x5247494d5a505254;

    /// <summary>Bumped on any incompatible change of the format; the destination refuses another version.</summary>
    public const uint Version = 2;

    public const int HeaderSize = 12;

    /// <summary>The largest payload accepted: a batch of <see cref="PagesPerBatch"/> pages with their headers
    /// (a batch of <see cref="DiskBlocksPerBatch"/> disk blocks is smaller).</summary>
    public const int MaxPayload = 8 + PagesPerBatch * (8 + PageSize);

    /// <summary>The granularity of disk copying and of tracking the guest's disk writes (QEMU's block migration
    /// uses 1 MiB; smaller blocks resend less of a disk the guest writes in small pieces).</summary>
    public const int DiskBlockSize = 64 * 1024;
    public const int DiskBlocksPerBatch = (MaxPayload - 8) / (8 + DiskBlockSize);

    /// <summary>Bit 63 of a disk block entry: the block reads as zeroes and no data follows.</summary>
    public const ulong ZeroBlockFlag = 1UL << 63;

    public const int PageSize = 4096;
    public const int PagesPerBatch = 256;

    /// <summary>Bit 63 of a page entry: the page is all zeroes and no data follows.</summary>
    public const ulong ZeroPageFlag = 1UL << 63;

    /// <summary>State pieces are at most this long.</summary>
    public const int StateChunk = 1 << 20;

    /// <summary>The largest machine state accepted (harts and devices, not RAM).</summary>
    public const long MaxStateLength = 256L << 20;

    /// <summary>The longest text in a HelloReply or Error.</summary>
    public const int MaxMessage = 4096;

    public static void WriteFrame(Stream stream, FrameType type, ReadOnlySpan<byte> payload)
    {
        if (payload.Length > MaxPayload) throw new ArgumentException($"frame of {payload.Length} bytes is over the limit", nameof(payload));
        Span<byte> header = stackalloc byte[HeaderSize];
        BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)type);
        BinaryPrimitives.WriteUInt32LittleEndian(header[4..], (uint)payload.Length);
        uint crc = Crc32C.Append(Crc32C.Compute(header[..8]), payload);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], crc);
        stream.Write(header);
        stream.Write(payload);
    }

    /// <summary>Reads one frame into <paramref name="buffer"/> (at least <see cref="MaxPayload"/> bytes) and
    /// returns its type and payload length. Throws <see cref="MigrationException"/> on a bad frame and
    /// <see cref="EndOfStreamException"/> when the stream ends.</summary>
    public static FrameType ReadFrame(Stream stream, byte[] buffer, out int length)
    {
        Span<byte> header = stackalloc byte[HeaderSize];
        stream.ReadExactly(header);
        uint type = BinaryPrimitives.ReadUInt32LittleEndian(header);
        uint len = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
        uint crc = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
        if (type is < (uint)FrameType.Hello or > (uint)FrameType.DiskBlocks)
            throw new MigrationException($"migration stream: unknown frame type {type}");
        if (len > MaxPayload)
            throw new MigrationException($"migration stream: frame of {len} bytes is over the {MaxPayload}-byte limit");
        length = (int)len;
        stream.ReadExactly(buffer.AsSpan(0, length));
        if (Crc32C.Append(Crc32C.Compute(header[..8]), buffer.AsSpan(0, length)) != crc)
            throw new MigrationException($"migration stream: checksum mismatch in a {(FrameType)type} frame (corrupted stream)");
        return (FrameType)type;
    }

    public static byte[] EncodeMessage(string message)
    {
        byte[] b = Encoding.UTF8.GetBytes(message);
        return b.Length <= MaxMessage ? b : b[..MaxMessage];
    }

    public static string DecodeMessage(ReadOnlySpan<byte> payload) =>
        Encoding.UTF8.GetString(payload[..Math.Min(payload.Length, MaxMessage)]);
}

/// <summary>
/// What the destination must match to take the guest over: the memory map, the harts and the disks (size and
/// whether writable: writable ones are copied). Built from a <see cref="VirtMachine"/> on either side and
/// compared whole.
/// </summary>
public sealed record MachineDescription(int Harts, IReadOnlyList<MemoryRegionDescription> Regions, IReadOnlyList<DiskDescription> Disks)
{
    /// <summary>The most disks a description may list (the board's virtio slots bound it far lower).</summary>
    public const int MaxDisks = 64;

    public static MachineDescription Of(VirtMachine machine) =>
        new(machine.Harts.Length, [.. machine.Bus.Memories.Select(m => new MemoryRegionDescription(m.Name, m.Base, m.Size, m.ReadOnly))],
            [.. machine.Disks.Select(d => new DiskDescription(d.Disk.Length, d.ReadOnly))]);

    public byte[] Encode()
    {
        using var ms = new MemoryStream();
        using var w = new BinaryWriter(ms, Encoding.UTF8);
        w.Write(MigrationProtocol.Magic);
        w.Write(MigrationProtocol.Version);
        w.Write(Harts);
        w.Write(Regions.Count);
        foreach (var r in Regions)
        {
            w.Write(r.Name);
            w.Write(r.Base);
            w.Write(r.Size);
            w.Write(r.ReadOnly);
        }
        w.Write(Disks.Count);
        foreach (var d in Disks)
        {
            w.Write(d.Length);
            w.Write(d.ReadOnly);
        }
        w.Flush();
        return ms.ToArray();
    }

    /// <summary>Decodes a Hello payload; throws <see cref="MigrationException"/> for a foreign or bad one.</summary>
    public static MachineDescription Decode(ReadOnlySpan<byte> payload)
    {
        try
        {
            using var ms = new MemoryStream(payload.ToArray());
            using var r = new BinaryReader(ms, Encoding.UTF8);
            if (r.ReadUInt64() != MigrationProtocol.Magic) throw new MigrationException("migration stream: not a Trapeze migration (bad magic)");
            uint version = r.ReadUInt32();
            if (version != MigrationProtocol.Version)
                throw new MigrationException($"migration stream: format version {version}, this side speaks {MigrationProtocol.Version}");
            int harts = r.ReadInt32();
            int count = r.ReadInt32();
            if (count is < 0 or > 16) throw new MigrationException($"migration stream: {count} memory regions");
            var regions = new List<MemoryRegionDescription>(count);
            for (int i = 0; i < count; i++)
                regions.Add(new MemoryRegionDescription(r.ReadString(), r.ReadUInt64(), r.ReadUInt64(), r.ReadBoolean()));
            int disks = r.ReadInt32();
            if (disks is < 0 or > MaxDisks) throw new MigrationException($"migration stream: {disks} disks");
            var diskList = new List<DiskDescription>(disks);
            for (int i = 0; i < disks; i++) diskList.Add(new DiskDescription(r.ReadUInt64(), r.ReadBoolean()));
            if (ms.Position != ms.Length) throw new MigrationException("migration stream: trailing bytes in the machine description");
            return new MachineDescription(harts, regions, diskList);
        }
        catch (EndOfStreamException)
        {
            throw new MigrationException("migration stream: truncated machine description");
        }
    }

    /// <summary>Null when <paramref name="other"/> matches, else what differs (for the refusal message).</summary>
    public string? Mismatch(MachineDescription other)
    {
        if (Harts != other.Harts) return $"the source has {other.Harts} harts, this machine {Harts}";
        if (Regions.Count != other.Regions.Count) return $"the source has {other.Regions.Count} memory regions, this machine {Regions.Count}";
        for (int i = 0; i < Regions.Count; i++)
            if (Regions[i] != other.Regions[i])
                return $"memory region {i}: the source has {other.Regions[i]}, this machine {Regions[i]}";
        if (Disks.Count != other.Disks.Count) return $"the source has {other.Disks.Count} disks, this machine {Disks.Count}";
        for (int i = 0; i < Disks.Count; i++)
            if (Disks[i] != other.Disks[i])
                return $"disk {i}: the source has {other.Disks[i]}, this machine {Disks[i]}";
        return null;
    }
}

/// <summary>One memory region of a machine description.</summary>
public sealed record MemoryRegionDescription(string Name, ulong Base, ulong Size, bool ReadOnly)
{
    public override string ToString() => $"{Name} 0x{Base:x}+0x{Size:x}{(ReadOnly ? " (read-only)" : "")}";
}

/// <summary>One disk of a machine description: its size in bytes, and whether it is read-only (shared by both
/// machines) or writable (copied).</summary>
public sealed record DiskDescription(ulong Length, bool ReadOnly)
{
    public override string ToString() => $"{Length} bytes{(ReadOnly ? " (read-only)" : " (writable)")}";
}

/// <summary>A migration failed; on the source the guest runs on (or again) as before.</summary>
public sealed class MigrationException(string message, Exception? inner = null) : Exception(message, inner);
