using System.Buffers;
using System.Buffers.Binary;

namespace Trapeze.Machine.Snapshot;

/// <summary>Builds one section's payload: little-endian integers, booleans as one byte, arrays with a u32 count.</summary>
internal sealed class PayloadWriter
{
    private readonly ArrayBufferWriter<byte> _buffer = new(256);

    public ReadOnlySpan<byte> Written => _buffer.WrittenSpan;

    public void Clear() => _buffer.ResetWrittenCount();

    public void U8(byte v)
    {
        _buffer.GetSpan(1)[0] = v;
        _buffer.Advance(1);
    }

    public void Bool(bool v) => U8(v ? (byte)1 : (byte)0);

    public void U16(ushort v)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(_buffer.GetSpan(2), v);
        _buffer.Advance(2);
    }

    public void U32(uint v)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.GetSpan(4), v);
        _buffer.Advance(4);
    }

    public void U64(ulong v)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(_buffer.GetSpan(8), v);
        _buffer.Advance(8);
    }

    public void Raw(ReadOnlySpan<byte> data) => _buffer.Write(data);

    public void Bytes(ReadOnlySpan<byte> data)
    {
        U32((uint)data.Length);
        Raw(data);
    }

    public void U32s(ReadOnlySpan<uint> values)
    {
        U32((uint)values.Length);
        foreach (uint v in values) U32(v);
    }

    public void U64s(ReadOnlySpan<ulong> values)
    {
        U32((uint)values.Length);
        foreach (ulong v in values) U64(v);
    }

    public void Bools(ReadOnlySpan<bool> values)
    {
        U32((uint)values.Length);
        foreach (bool v in values) Bool(v);
    }
}
