using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Trapeze.Core.Memory;

/// <summary>
/// Checked access to guest-physical memory for loaders and DMA-capable devices (STYLE rule 5): every
/// range is validated with overflow-safe arithmetic before a byte moves. Ranges that are not wholly inside
/// one memory region are refused, never partially performed.
/// </summary>
public sealed unsafe class GuestMemory(Bus bus)
{
    public Bus Bus { get; } = bus;

    /// <summary>
    /// Host view of [pa, pa+length), or an empty result when the range is not guest memory. A writer must call
    /// <see cref="NoteWritten"/> for the range once its bytes are in: the pages are noted as changed both
    /// now and then, because a dirty-page collection or a decode may fall between the two.
    /// </summary>
    public bool TryGetSpan(ulong pa, int length, bool forWrite, out Span<byte> span)
    {
        if (!TryResolve(pa, length, forWrite, out GuestRam? m, out span)) return false;
        // A device may write code (a disk read into the page cache): decoded blocks there become stale.
        if (forWrite) m!.NoteWrite(pa, (ulong)length);
        return true;
    }

    /// <summary>Notes that a writer has finished writing [pa, pa+length) through a span from
    /// <see cref="TryGetSpan"/>: decoded code there is stale and the pages are dirty.</summary>
    public void NoteWritten(ulong pa, ulong length)
    {
        var m = Bus.FindMemory(pa);
        if (m != null && m.Contains(pa, length)) m.NoteWrite(pa, length);
    }

    private bool TryResolve(ulong pa, int length, bool forWrite, out GuestRam? m, out Span<byte> span)
    {
        span = default;
        m = null;
        if (length < 0) return false;
        m = Bus.FindMemory(pa);
        if (m == null || !m.Contains(pa, (ulong)length)) return false;
        if (forWrite && m.ReadOnly) return false;
        span = new Span<byte>(m.Host + (pa - m.Base), length);
        return true;
    }

    public bool TryRead(ulong pa, Span<byte> destination)
    {
        if (!TryGetSpan(pa, destination.Length, false, out var src)) return false;
        src.CopyTo(destination);
        return true;
    }

    public bool TryWrite(ulong pa, ReadOnlySpan<byte> source)
    {
        if (!TryResolve(pa, source.Length, true, out GuestRam? m, out var dst)) return false;
        source.CopyTo(dst);
        // Noted after the copy: a decode or dirty-page collection that falls between sees the change later.
        m!.NoteWrite(pa, (ulong)source.Length);
        return true;
    }

    /// <summary>Writes into a region regardless of its read-only flag (a loader filling the boot ROM).</summary>
    public bool TryLoad(ulong pa, ReadOnlySpan<byte> source)
    {
        var m = Bus.FindMemory(pa);
        if (m == null || !m.Contains(pa, (ulong)source.Length)) return false;
        source.CopyTo(new Span<byte>(m.Host + (pa - m.Base), source.Length));
        m.NoteWrite(pa, (ulong)source.Length);
        return true;
    }

    public bool TryReadU64(ulong pa, out ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        bool ok = TryRead(pa, b);
        value = ok ? BinaryPrimitives.ReadUInt64LittleEndian(b) : 0;
        return ok;
    }

    public bool TryWriteU64(ulong pa, ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, value);
        return TryWrite(pa, b);
    }

    public bool TryReadU32(ulong pa, out uint value)
    {
        Span<byte> b = stackalloc byte[4];
        bool ok = TryRead(pa, b);
        value = ok ? BinaryPrimitives.ReadUInt32LittleEndian(b) : 0;
        return ok;
    }

    public bool TryWriteU32(ulong pa, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        return TryWrite(pa, b);
    }

    public bool TryReadU16(ulong pa, out ushort value)
    {
        Span<byte> b = stackalloc byte[2];
        bool ok = TryRead(pa, b);
        value = ok ? BinaryPrimitives.ReadUInt16LittleEndian(b) : (ushort)0;
        return ok;
    }

    public bool TryWriteU16(ulong pa, ushort value)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, value);
        return TryWrite(pa, b);
    }

    /// <summary>True when [pa, pa+length) lies wholly inside one memory region (writable, if
    /// <paramref name="forWrite"/>). Overflow-safe for any inputs; moves no data.</summary>
    public bool IsRange(ulong pa, ulong length, bool forWrite)
    {
        var m = Bus.FindMemory(pa);
        return m != null && m.Contains(pa, length) && !(forWrite && m.ReadOnly);
    }

    /// <summary>
    /// Reads a naturally aligned 16-bit value with acquire semantics: memory the guest wrote before
    /// publishing this value (a virtqueue's avail ring entries before its index) is visible to reads that
    /// follow. Refuses misaligned addresses, so the load is a single access.
    /// </summary>
    public bool TryReadU16Acquire(ulong pa, out ushort value)
    {
        value = 0;
        if ((pa & 1) != 0 || !TryGetSpan(pa, 2, false, out var span)) return false;
        ushort raw = Volatile.Read(ref Unsafe.As<byte, ushort>(ref MemoryMarshal.GetReference(span)));
        value = BitConverter.IsLittleEndian ? raw : BinaryPrimitives.ReverseEndianness(raw);
        return true;
    }

    /// <summary>
    /// Writes a naturally aligned 16-bit value with release semantics: everything this thread wrote to
    /// guest memory before (a used ring's entries) is visible to the guest before the value is. Refuses
    /// misaligned addresses.
    /// </summary>
    public bool TryWriteU16Release(ulong pa, ushort value)
    {
        if ((pa & 1) != 0 || !TryResolve(pa, 2, true, out GuestRam? m, out var span)) return false;
        ushort raw = BitConverter.IsLittleEndian ? value : BinaryPrimitives.ReverseEndianness(value);
        Volatile.Write(ref Unsafe.As<byte, ushort>(ref MemoryMarshal.GetReference(span)), raw);
        m!.NoteWrite(pa, 2);
        return true;
    }
}
