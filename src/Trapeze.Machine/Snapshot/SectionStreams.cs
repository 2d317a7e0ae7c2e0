using System.Buffers.Binary;
using System.IO.Hashing;

namespace Trapeze.Machine.Snapshot;

/// <summary>Writes a snapshot stream: header, sections, end marker and the file checksum (see <see cref="SnapshotFormat"/>).</summary>
internal sealed class SectionWriter
{
    private readonly Stream _stream;
    private readonly XxHash3 _fileHash = new();

    public SectionWriter(Stream stream, SnapshotKind kind)
    {
        _stream = stream;
        Span<byte> header = stackalloc byte[SnapshotFormat.HeaderSize];
        SnapshotFormat.Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], SnapshotFormat.Version);
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], (uint)kind);
        Write(header);
    }

    public void Section(SectionTag tag, ReadOnlySpan<byte> payload)
    {
        if (payload.Length > SnapshotFormat.MaxSectionLength)
            throw new InvalidOperationException($"section {tag} of {payload.Length} bytes exceeds the format's limit");
        Span<byte> head = stackalloc byte[SnapshotFormat.SectionHeaderSize];
        BinaryPrimitives.WriteUInt32LittleEndian(head, (uint)tag);
        BinaryPrimitives.WriteUInt32LittleEndian(head[4..], (uint)payload.Length);
        Write(head);
        Write(payload);
        Span<byte> hash = stackalloc byte[SnapshotFormat.SectionTrailerSize];
        BinaryPrimitives.WriteUInt64LittleEndian(hash, XxHash3.HashToUInt64(payload));
        Write(hash);
    }

    /// <summary>The end marker and the checksum of everything before it.</summary>
    public void Finish()
    {
        Section(SectionTag.End, []);
        Span<byte> trailer = stackalloc byte[SnapshotFormat.FileTrailerSize];
        BinaryPrimitives.WriteUInt64LittleEndian(trailer, _fileHash.GetCurrentHashAsUInt64());
        _stream.Write(trailer);
        _stream.Flush();
    }

    private void Write(ReadOnlySpan<byte> data)
    {
        _fileHash.Append(data);
        _stream.Write(data);
    }
}

/// <summary>Reads a snapshot stream section by section, checking the header, each section's hash and, at the
/// end, the file's. A truncated or corrupt stream is a <see cref="SnapshotException"/>, never an allocation
/// beyond <see cref="SnapshotFormat.MaxSectionLength"/>.</summary>
internal sealed class SectionReader
{
    private readonly Stream _stream;
    private readonly XxHash3 _fileHash = new();
    private byte[] _payload = new byte[4096];
    private (SectionTag Tag, int Length)? _next;

    public SectionReader(Stream stream)
    {
        _stream = stream;
        Span<byte> header = stackalloc byte[SnapshotFormat.HeaderSize];
        int got = _stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
        if (got < 8 || !header[..8].SequenceEqual(SnapshotFormat.Magic))
            throw new SnapshotException("not a Trapeze snapshot (no TRPZSNAP magic at the start)");
        if (got < header.Length) throw new SnapshotException("snapshot is truncated (in its header)");
        uint version = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
        if (version != SnapshotFormat.Version)
            throw new SnapshotException($"snapshot format version {version} is not supported (this build reads version {SnapshotFormat.Version})");
        uint kind = BinaryPrimitives.ReadUInt32LittleEndian(header[12..]);
        if (!Enum.IsDefined((SnapshotKind)kind)) throw new SnapshotException($"snapshot of unknown kind {kind}");
        Kind = (SnapshotKind)kind;
        _fileHash.Append(header);
    }

    public SnapshotKind Kind { get; }

    /// <summary>The tag of the next section, without reading it.</summary>
    public SectionTag PeekTag()
    {
        if (_next == null)
        {
            Span<byte> head = stackalloc byte[SnapshotFormat.SectionHeaderSize];
            ReadExactly(head, "a section header");
            _fileHash.Append(head);
            var tag = (SectionTag)BinaryPrimitives.ReadUInt32LittleEndian(head);
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(head[4..]);
            if (!Enum.IsDefined(tag)) throw new SnapshotException($"snapshot has a section of unknown type {(uint)tag}");
            if (length > SnapshotFormat.MaxSectionLength)
                throw new SnapshotException($"snapshot section '{Name(tag)}' claims {length} bytes (at most {SnapshotFormat.MaxSectionLength})");
            _next = (tag, (int)length);
        }
        return _next.Value.Tag;
    }

    /// <summary>Reads the next section, which must be <paramref name="expected"/>; the payload is valid until
    /// the next read.</summary>
    public ReadOnlySpan<byte> Read(SectionTag expected)
    {
        SectionTag tag = PeekTag();
        if (tag != expected)
            throw new SnapshotException(tag == SectionTag.End
                ? $"snapshot ends before its '{Name(expected)}' section"
                : $"snapshot has a '{Name(tag)}' section where '{Name(expected)}' belongs");
        int length = _next!.Value.Length;
        _next = null;
        if (_payload.Length < length) _payload = new byte[Math.Max(length, _payload.Length * 2)];
        Span<byte> payload = _payload.AsSpan(0, length);
        ReadExactly(payload, $"section '{Name(tag)}'");
        _fileHash.Append(payload);
        Span<byte> trailer = stackalloc byte[SnapshotFormat.SectionTrailerSize];
        ReadExactly(trailer, $"section '{Name(tag)}'");
        _fileHash.Append(trailer);
        if (BinaryPrimitives.ReadUInt64LittleEndian(trailer) != XxHash3.HashToUInt64(payload))
            throw new SnapshotException($"snapshot section '{Name(tag)}' is corrupt (checksum mismatch)");
        return payload;
    }

    /// <summary>Reads the end marker and checks the file's checksum.</summary>
    public void Finish()
    {
        Read(SectionTag.End);
        ulong expected = _fileHash.GetCurrentHashAsUInt64();
        Span<byte> trailer = stackalloc byte[SnapshotFormat.FileTrailerSize];
        ReadExactly(trailer, "the file checksum");
        if (BinaryPrimitives.ReadUInt64LittleEndian(trailer) != expected)
            throw new SnapshotException("snapshot is corrupt (file checksum mismatch)");
    }

    private void ReadExactly(Span<byte> buffer, string where)
    {
        if (_stream.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false) < buffer.Length)
            throw new SnapshotException($"snapshot is truncated (in {where})");
    }

    public static string Name(SectionTag tag) => tag switch
    {
        SectionTag.Description => "machine description",
        SectionTag.Clock => "clock",
        SectionTag.Hart => "hart",
        SectionTag.Plic => "plic",
        SectionTag.Clint => "clint",
        SectionTag.Uart => "uart",
        SectionTag.Rtc => "rtc",
        SectionTag.Sbi => "sbi",
        SectionTag.Virtio => "virtio",
        SectionTag.Ram => "ram",
        SectionTag.Rom => "rom",
        SectionTag.End => "end",
        _ => $"type {(uint)tag}",
    };
}
