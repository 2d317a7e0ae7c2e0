using System.Buffers.Binary;
using System.Collections.Immutable;
using System.Runtime.InteropServices;

namespace Trapeze.Machine.Snapshot;

/// <summary>Reads one section's payload (the counterpart of <see cref="PayloadWriter"/>). Every read is bounds
/// checked and every array count is checked against a limit and against the bytes left before anything is
/// allocated; any violation is a <see cref="SnapshotException"/> naming the section.</summary>
internal ref struct PayloadReader(ReadOnlySpan<byte> data, string section)
{
    private ReadOnlySpan<byte> _data = data;

    public readonly string Section => section;

    public readonly int Remaining => _data.Length;

    public SnapshotException Error(string what) => new($"snapshot section '{section}': {what}");

    private ReadOnlySpan<byte> Take(int n)
    {
        if (n > _data.Length) throw Error("truncated");
        ReadOnlySpan<byte> s = _data[..n];
        _data = _data[n..];
        return s;
    }

    public byte U8() => Take(1)[0];

    public bool Bool()
    {
        byte b = U8();
        return b switch { 0 => false, 1 => true, _ => throw Error($"boolean byte {b}") };
    }

    public ushort U16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));

    public uint U32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

    public ulong U64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

    public ReadOnlySpan<byte> Raw(int length) => Take(length);

    /// <summary>An array count: at most <paramref name="max"/>, and no more elements than bytes left allow.</summary>
    public int Count(int max, int elementSize, string what)
    {
        uint n = U32();
        if (n > (uint)max) throw Error($"{n} {what} (at most {max})");
        if ((ulong)n * (ulong)elementSize > (ulong)_data.Length) throw Error($"truncated in the {what}");
        return (int)n;
    }

    /// <summary>An array count that must be exactly <paramref name="expected"/>.</summary>
    public int ExactCount(int expected, int elementSize, string what)
    {
        int n = Count(int.MaxValue, elementSize, what);
        if (n != expected) throw Error($"{n} {what}, expected {expected}");
        return n;
    }

    public ImmutableArray<byte> Bytes(int max, string what) => [.. Take(Count(max, 1, what))];

    public ImmutableArray<uint> U32s(int expected, string what)
    {
        var a = new uint[ExactCount(expected, 4, what)];
        for (int i = 0; i < a.Length; i++) a[i] = U32();
        return ImmutableCollectionsMarshal.AsImmutableArray(a);
    }

    public ImmutableArray<ulong> U64s(int expected, string what)
    {
        var a = new ulong[ExactCount(expected, 8, what)];
        for (int i = 0; i < a.Length; i++) a[i] = U64();
        return ImmutableCollectionsMarshal.AsImmutableArray(a);
    }

    public ImmutableArray<bool> Bools(int expected, string what)
    {
        var a = new bool[ExactCount(expected, 1, what)];
        for (int i = 0; i < a.Length; i++) a[i] = Bool();
        return ImmutableCollectionsMarshal.AsImmutableArray(a);
    }

    /// <summary>The payload must be used up exactly.</summary>
    public readonly void End()
    {
        if (!_data.IsEmpty) throw new SnapshotException($"snapshot section '{section}': {_data.Length} unexpected bytes at the end");
    }
}
