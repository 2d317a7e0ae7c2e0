using System.Buffers.Binary;
using K4os.Compression.LZ4;
using Trapeze.Core.Memory;

namespace Trapeze.Machine.Snapshot;

/// <summary>
/// RAM (and boot ROM) sections: chunks of up to <see cref="SnapshotFormat.PagesPerChunk"/> consecutive pages.
/// <code>payload = u64 first page | u32 page count | bitmap of the pages present | u32 compressed length | LZ4 block</code>
/// The LZ4 block holds the present pages one after the other. A full snapshot leaves all-zero pages out (RAM
/// is cleared before a restore); a RAM-only stream holds exactly the pages it was asked to carry.
/// </summary>
internal sealed class RamCodec
{
    private const int ChunkBytes = SnapshotFormat.PagesPerChunk * SnapshotFormat.PageSize;
    private const int BitmapBytes = SnapshotFormat.PagesPerChunk / 8;

    private readonly byte[] _pages = new byte[ChunkBytes];
    private readonly byte[] _payload = new byte[8 + 4 + BitmapBytes + 4 + LZ4Codec.MaximumOutputSize(ChunkBytes)];

    /// <summary>Writes the pages of <paramref name="ram"/> chosen by <paramref name="include"/> (null: every page
    /// that is not all zero).</summary>
    public void Write(GuestRam ram, SectionWriter output, Func<ulong, bool>? include, SectionTag tag = SectionTag.Ram)
    {
        ulong pageCount = ram.Size / SnapshotFormat.PageSize;
        Span<byte> bitmap = stackalloc byte[BitmapBytes];
        for (ulong first = 0; first < pageCount; first += SnapshotFormat.PagesPerChunk)
        {
            int count = (int)Math.Min(SnapshotFormat.PagesPerChunk, pageCount - first);
            bitmap.Clear();
            int present = 0;
            for (int i = 0; i < count; i++)
            {
                ulong page = first + (ulong)i;
                Span<byte> data = ram.AsSpan(page * SnapshotFormat.PageSize, SnapshotFormat.PageSize);
                bool wanted = include != null ? include(page) : data.IndexOfAnyExcept((byte)0) >= 0;
                if (!wanted) continue;
                bitmap[i >> 3] |= (byte)(1 << (i & 7));
                data.CopyTo(_pages.AsSpan(present * SnapshotFormat.PageSize));
                present++;
            }
            if (present == 0) continue;
            int bitmapLength = (count + 7) / 8;
            Span<byte> p = _payload;
            BinaryPrimitives.WriteUInt64LittleEndian(p, first);
            BinaryPrimitives.WriteUInt32LittleEndian(p[8..], (uint)count);
            bitmap[..bitmapLength].CopyTo(p[12..]);
            int header = 12 + bitmapLength + 4;
            int compressed = LZ4Codec.Encode(_pages.AsSpan(0, present * SnapshotFormat.PageSize), p[header..], LZ4Level.L00_FAST);
            if (compressed <= 0) throw new InvalidOperationException("LZ4 compression of a RAM chunk failed");
            BinaryPrimitives.WriteUInt32LittleEndian(p[(header - 4)..], (uint)compressed);
            output.Section(tag, p[..(header + compressed)]);
        }
    }

    /// <summary>
    /// Reads RAM sections until the next section is something else, writing the pages into <paramref name="ram"/>.
    /// Chunks must come in increasing order without overlap and lie inside RAM. Each page written makes code
    /// decoded from it stale.
    /// </summary>
    public void Read(GuestRam ram, SectionReader input, SectionTag tag = SectionTag.Ram) =>
        Read(ram.Size / SnapshotFormat.PageSize, ram.Name, input, tag, (page, data) =>
        {
            data.CopyTo(ram.AsSpan(page * SnapshotFormat.PageSize, SnapshotFormat.PageSize));
            ram.NoteWrite(ram.Base + page * SnapshotFormat.PageSize, SnapshotFormat.PageSize);
        });

    /// <summary>Where decoded pages go.</summary>
    public delegate void PageSink(ulong page, ReadOnlySpan<byte> data);

    /// <summary>Reads chunks of a memory of <paramref name="pageCount"/> pages, handing each page present to
    /// <paramref name="sink"/>.</summary>
    public void Read(ulong pageCount, string name, SectionReader input, SectionTag tag, PageSink sink)
    {
        ulong next = 0;
        while (input.PeekTag() == tag)
        {
            var r = new PayloadReader(input.Read(tag), SectionReader.Name(tag));
            ulong first = r.U64();
            uint count = r.U32();
            if (count == 0 || count > SnapshotFormat.PagesPerChunk) throw r.Error($"a chunk of {count} pages (1 to {SnapshotFormat.PagesPerChunk})");
            if (first < next) throw r.Error($"chunk at page {first} overlaps or precedes the one before (next free page {next})");
            if (first > pageCount || count > pageCount - first)
                throw r.Error($"pages {first}..{first + count - 1} lie outside the machine's {pageCount} pages of {name}");
            ReadOnlySpan<byte> bitmap = r.Raw((int)(count + 7) / 8);
            int present = 0;
            for (int i = 0; i < count; i++) if ((bitmap[i >> 3] & (1 << (i & 7))) != 0) present++;
            if ((count & 7) != 0 && (bitmap[^1] >> (int)(count & 7)) != 0) throw r.Error("bits set past the chunk's last page");
            uint compressedLength = r.U32();
            if (compressedLength != (uint)r.Remaining) throw r.Error($"compressed length {compressedLength}, but {r.Remaining} bytes follow");
            ReadOnlySpan<byte> compressed = r.Raw(r.Remaining);
            int expected = present * SnapshotFormat.PageSize;
            int decoded = LZ4Codec.Decode(compressed, _pages.AsSpan(0, expected));
            if (decoded != expected) throw r.Error($"compressed pages decode to {Math.Max(decoded, 0)} bytes, not {expected}");
            int k = 0;
            for (int i = 0; i < count; i++)
            {
                if ((bitmap[i >> 3] & (1 << (i & 7))) == 0) continue;
                sink(first + (ulong)i, _pages.AsSpan(k++ * SnapshotFormat.PageSize, SnapshotFormat.PageSize));
            }
            next = first + count;
        }
    }
}
