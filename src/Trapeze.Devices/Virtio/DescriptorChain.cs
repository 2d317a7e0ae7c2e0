using Trapeze.Core.Memory;

namespace Trapeze.Devices.Virtio;

/// <summary>One buffer of a descriptor chain: a guest-physical range already checked to lie in guest memory.</summary>
public readonly record struct DescriptorSegment(ulong Address, uint Length);

/// <summary>
/// A descriptor chain popped from a <see cref="VirtQueue"/>: its device-readable buffers, then its
/// device-writable ones, each seen by the device as one byte stream (a v1 device must not depend on how
/// the driver split a request into descriptors, §2.7.4). The descriptors were copied out of guest memory
/// once and checked then; the guest changing them afterwards changes nothing here. The object belongs to
/// its queue and is reused by the next pop.
/// </summary>
public sealed class DescriptorChain
{
    private readonly GuestMemory _memory;
    private readonly DescriptorSegment[] _segments;
    private int _count;
    private int _readableCount;

    internal DescriptorChain(GuestMemory memory, int capacity)
    {
        _memory = memory;
        _segments = new DescriptorSegment[capacity];
    }

    /// <summary>The head descriptor index: the id this chain is returned under in the used ring.</summary>
    public ushort Head { get; private set; }

    /// <summary>Total bytes in the device-readable buffers.</summary>
    public ulong ReadableLength { get; private set; }

    /// <summary>Total bytes in the device-writable buffers.</summary>
    public ulong WritableLength { get; private set; }

    /// <summary>The device-readable buffers, in order.</summary>
    public ReadOnlySpan<DescriptorSegment> Readable => _segments.AsSpan(0, _readableCount);

    /// <summary>The device-writable buffers, in order.</summary>
    public ReadOnlySpan<DescriptorSegment> Writable => _segments.AsSpan(_readableCount, _count - _readableCount);

    internal void Start(ushort head)
    {
        Head = head;
        _count = 0;
        _readableCount = 0;
        ReadableLength = 0;
        WritableLength = 0;
    }

    /// <summary>Adds a buffer; the caller has checked the range, the ordering and the capacity.</summary>
    internal void Add(ulong address, uint length, bool writable)
    {
        if (length == 0) return;
        _segments[_count++] = new DescriptorSegment(address, length);
        if (writable) WritableLength += length;
        else
        {
            _readableCount++;
            ReadableLength += length;
        }
    }

    /// <summary>Copies bytes [offset, offset + destination.Length) of the readable stream. False when the
    /// range runs past the readable buffers.</summary>
    public bool TryRead(ulong offset, Span<byte> destination)
    {
        foreach (Span<byte> span in ReadableSpans(offset, (ulong)destination.Length))
        {
            span.CopyTo(destination);
            destination = destination[span.Length..];
        }
        return destination.IsEmpty;
    }

    /// <summary>Copies <paramref name="source"/> to bytes [offset, offset + source.Length) of the writable
    /// stream. False when the range runs past the writable buffers (nothing past them is written).</summary>
    public bool TryWrite(ulong offset, ReadOnlySpan<byte> source)
    {
        foreach (Span<byte> span in WritableSpans(offset, (ulong)source.Length))
        {
            source[..span.Length].CopyTo(span);
            source = source[span.Length..];
        }
        return source.IsEmpty;
    }

    /// <summary>Host views of bytes [offset, offset + length) of the readable stream, clipped to it.</summary>
    public GuestSpans ReadableSpans(ulong offset, ulong length) => new(_memory, Readable, offset, length, false);

    /// <summary>Host views of bytes [offset, offset + length) of the writable stream, clipped to it. Writing
    /// through them is DMA into the guest (pages holding decoded code are noted as changed).</summary>
    public GuestSpans WritableSpans(ulong offset, ulong length) => new(_memory, Writable, offset, length, true);
}

/// <summary>
/// The host views of a byte range of a chain's readable or writable stream, one span per buffer touched,
/// obtained through <see cref="GuestMemory"/> (never by address arithmetic). Use with <c>foreach</c>.
/// </summary>
public readonly ref struct GuestSpans(GuestMemory memory, ReadOnlySpan<DescriptorSegment> segments, ulong offset, ulong length, bool forWrite)
{
    private readonly GuestMemory _memory = memory;
    private readonly ReadOnlySpan<DescriptorSegment> _segments = segments;
    private readonly ulong _offset = offset;
    private readonly ulong _length = length;
    private readonly bool _forWrite = forWrite;

    public Enumerator GetEnumerator() => new(_memory, _segments, _offset, _length, _forWrite);

    public ref struct Enumerator
    {
        private readonly GuestMemory _memory;
        private readonly ReadOnlySpan<DescriptorSegment> _segments;
        private readonly bool _forWrite;
        private int _index;
        private ulong _skip;
        private ulong _remaining;
        private Span<byte> _current;
        private ulong _currentAddress;

        internal Enumerator(GuestMemory memory, ReadOnlySpan<DescriptorSegment> segments, ulong offset, ulong length, bool forWrite)
        {
            _memory = memory;
            _segments = segments;
            _forWrite = forWrite;
            _index = 0;
            _skip = offset;
            _remaining = length;
            _current = default;
            _currentAddress = 0;
        }

        public readonly Span<byte> Current => _current;

        public bool MoveNext()
        {
            NoteCurrentWritten();
            while (_remaining > 0 && _index < _segments.Length)
            {
                DescriptorSegment s = _segments[_index++];
                if (_skip >= s.Length)
                {
                    _skip -= s.Length;
                    continue;
                }
                ulong take = Math.Min(s.Length - _skip, _remaining);
                // The range was checked when the chain was popped; a failure here means the memory map
                // changed under us, and the stream simply ends.
                if (!_memory.TryGetSpan(s.Address + _skip, (int)take, _forWrite, out _current)) return false;
                _currentAddress = s.Address + _skip;
                _skip = 0;
                _remaining -= take;
                return true;
            }
            return false;
        }

        /// <summary>The end of a <c>foreach</c> (also on break or exception): the last span's writes are done.</summary>
        public void Dispose() => NoteCurrentWritten();

        /// <summary>The device has finished with the current span: for DMA writes, its pages are noted as
        /// changed now that the bytes are in (dirty logging must see the mark after the data).</summary>
        private void NoteCurrentWritten()
        {
            if (_forWrite && !_current.IsEmpty) _memory.NoteWritten(_currentAddress, (ulong)_current.Length);
            _current = default;
        }
    }
}
