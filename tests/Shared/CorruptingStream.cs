using Trapeze.Machine.Migration;

namespace Trapeze.Tests.Shared;

/// <summary>Passes writes through, flipping one payload byte of the first frame of the chosen type
/// (frames are written as a header, then the payload, in separate writes).</summary>
public sealed class CorruptingStream(Stream inner, FrameType target) : Stream
{
    private bool _payloadOfTarget;
    public bool Corrupted { get; private set; }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        if (_payloadOfTarget && !Corrupted && buffer.Length > 16)
        {
            byte[] copy = buffer.ToArray();
            copy[copy.Length / 2] ^= 0x40;
            Corrupted = true;
            _payloadOfTarget = false;
            inner.Write(copy);
            return;
        }
        _payloadOfTarget = buffer.Length == MigrationProtocol.HeaderSize && BitConverter.ToUInt32(buffer) == (uint)target;
        inner.Write(buffer);
    }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
    public override int Read(Span<byte> buffer) => inner.Read(buffer);
    public override void Flush() => inner.Flush();
    public override bool CanRead => true;
    public override bool CanWrite => true;
    public override bool CanSeek => false;
    public override bool CanTimeout => inner.CanTimeout;
    public override int ReadTimeout { get => inner.ReadTimeout; set => inner.ReadTimeout = value; }
    public override int WriteTimeout { get => inner.WriteTimeout; set => inner.WriteTimeout = value; }
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
}
