using System.Buffers.Binary;

namespace Trapeze.Devices.Storage;

/// <summary>
/// A raw image whose format was probed rather than named. The guest must not be able to turn it into a
/// qcow2 image for the next boot (by writing the qcow2 magic into its first sector, with a backing file
/// name of its choosing), so such writes fail — QEMU's rule for probed raw images. Naming the format
/// (format=raw) lifts the restriction.
/// </summary>
internal sealed class ProbedRawDiskImage(IDiskImage inner) : IDiskImage
{
    public string Name => inner.Name;

    public ulong Length => inner.Length;

    public bool ReadOnly => inner.ReadOnly;

    public void Read(ulong offset, Span<byte> buffer) => inner.Read(offset, buffer);

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        if (offset < 4 && !data.IsEmpty)
        {
            Span<byte> first = stackalloc byte[4];
            inner.Read(0, first);
            int from = (int)offset, n = Math.Min(4 - from, data.Length);
            data[..n].CopyTo(first[from..]);
            if (first.SequenceEqual(Qcow2Image.Magic))
                throw new IOException($"{Name}: refusing to write a qcow2 signature into a raw image whose format was probed (name the format: format=raw)");
        }
        inner.Write(offset, data);
    }

    public void Flush() => inner.Flush();

    public void Discard(ulong offset, ulong length) => inner.Discard(offset, length);

    public void WriteZeroes(ulong offset, ulong length, bool mayUnmap) => inner.WriteZeroes(offset, length, mayUnmap);

    public void Dispose() => inner.Dispose();

    /// <summary>True when the first four bytes are the qcow2 magic.</summary>
    internal static bool HasQcow2Magic(ReadOnlySpan<byte> start) =>
        start.Length >= 4 && BinaryPrimitives.ReadUInt32BigEndian(start) == BinaryPrimitives.ReadUInt32BigEndian(Qcow2Image.Magic);
}
