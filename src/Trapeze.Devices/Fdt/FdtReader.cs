using System.Buffers.Binary;
using System.Text;

namespace Trapeze.Devices.Fdt;

/// <summary>One property of a parsed device tree.</summary>
public sealed record FdtProperty(string Name, byte[] Value)
{
    public uint AsU32() => Value.Length == 4
        ? BinaryPrimitives.ReadUInt32BigEndian(Value)
        : throw new FormatException($"Property '{Name}' is {Value.Length} bytes, not one cell.");

    public ulong AsU64() => Value.Length == 8
        ? BinaryPrimitives.ReadUInt64BigEndian(Value)
        : throw new FormatException($"Property '{Name}' is {Value.Length} bytes, not two cells.");

    public uint[] AsU32Array()
    {
        if ((Value.Length & 3) != 0) throw new FormatException($"Property '{Name}' is not a whole number of cells.");
        var cells = new uint[Value.Length / 4];
        for (int i = 0; i < cells.Length; i++) cells[i] = BinaryPrimitives.ReadUInt32BigEndian(Value.AsSpan(i * 4));
        return cells;
    }

    public string[] AsStringList()
    {
        if (Value.Length == 0 || Value[^1] != 0) throw new FormatException($"Property '{Name}' is not a NUL-terminated string list.");
        return Encoding.UTF8.GetString(Value, 0, Value.Length - 1).Split('\0');
    }

    public string AsString() => AsStringList()[0];
}

/// <summary>One node of a parsed device tree.</summary>
public sealed class FdtNode(string name)
{
    public string Name { get; } = name;
    public List<FdtProperty> Properties { get; } = [];
    public List<FdtNode> Children { get; } = [];

    public FdtProperty? Property(string name)
    {
        foreach (FdtProperty p in Properties)
        {
            if (p.Name == name) return p;
        }
        return null;
    }

    public FdtNode? Child(string name)
    {
        foreach (FdtNode c in Children)
        {
            if (c.Name == name) return c;
        }
        return null;
    }

    /// <summary>Finds a node by absolute path from this node ("/soc/serial@10000000"); "/" is this node.</summary>
    public FdtNode? Find(string path)
    {
        FdtNode? node = this;
        foreach (string part in path.Split('/', StringSplitOptions.RemoveEmptyEntries))
        {
            node = node.Child(part);
            if (node is null) return null;
        }
        return node;
    }
}

/// <summary>A parsed flattened device tree: header fields, reservations and the node tree.</summary>
public sealed record FdtTree(uint Version, uint LastCompatibleVersion, uint BootCpuId,
    IReadOnlyList<(ulong Address, ulong Size)> MemoryReservations, FdtNode Root);

/// <summary>
/// Parses a DTB (for tests, <c>--dump-dtb</c> checks and any tree handed to us). Every offset and length
/// is bounds-checked; a malformed blob throws <see cref="FormatException"/>.
/// </summary>
public static class FdtReader
{
    private const int MaxDepth = 64;

    public static FdtTree Parse(ReadOnlySpan<byte> blob)
    {
        if (blob.Length < FdtBuilder.HeaderSize) throw new FormatException("Blob shorter than an FDT header.");
        if (U32(blob, 0) != FdtBuilder.Magic) throw new FormatException("Bad FDT magic.");
        uint total = U32(blob, 4);
        uint structOffset = U32(blob, 8);
        uint stringsOffset = U32(blob, 12);
        uint reservationOffset = U32(blob, 16);
        uint version = U32(blob, 20);
        uint lastCompatible = U32(blob, 24);
        uint bootCpu = U32(blob, 28);
        uint stringsSize = U32(blob, 32);
        uint structSize = U32(blob, 36);
        if (version < 16) throw new FormatException($"FDT version {version} is not supported.");
        if (total > blob.Length) throw new FormatException("totalsize exceeds the blob.");
        blob = blob[..(int)total];
        ReadOnlySpan<byte> structure = Slice(blob, structOffset, structSize, "structure block");
        ReadOnlySpan<byte> strings = Slice(blob, stringsOffset, stringsSize, "strings block");

        var reservations = new List<(ulong, ulong)>();
        if ((reservationOffset & 7) != 0) throw new FormatException("Memory reservation block is not 8-byte aligned.");
        for (ulong at = reservationOffset; ; at += 16)
        {
            if (at + 16 > total) throw new FormatException("Unterminated memory reservation block.");
            ulong address = BinaryPrimitives.ReadUInt64BigEndian(blob[(int)at..]);
            ulong size = BinaryPrimitives.ReadUInt64BigEndian(blob[(int)(at + 8)..]);
            if (address == 0 && size == 0) break;
            reservations.Add((address, size));
        }

        int pos = 0;
        FdtNode? root = null;
        var stack = new Stack<FdtNode>();
        while (true)
        {
            uint token = ReadToken(structure, ref pos);
            switch (token)
            {
                case FdtBuilder.TokenBeginNode:
                {
                    string name = ReadCString(structure, pos, out int length);
                    pos = Align4(pos + length + 1);
                    var node = new FdtNode(name);
                    if (stack.Count == 0)
                    {
                        if (root is not null) throw new FormatException("More than one root node.");
                        root = node;
                    }
                    else
                    {
                        stack.Peek().Children.Add(node);
                    }
                    if (stack.Count >= MaxDepth) throw new FormatException("Device tree nested too deeply.");
                    stack.Push(node);
                    break;
                }
                case FdtBuilder.TokenEndNode:
                    if (stack.Count == 0) throw new FormatException("END_NODE without BEGIN_NODE.");
                    stack.Pop();
                    break;
                case FdtBuilder.TokenProp:
                {
                    if (stack.Count == 0) throw new FormatException("Property outside any node.");
                    uint length = ReadToken(structure, ref pos);
                    uint nameOffset = ReadToken(structure, ref pos);
                    if (length > (uint)(structure.Length - pos)) throw new FormatException("Property value runs past the structure block.");
                    if (nameOffset >= (uint)strings.Length) throw new FormatException("Property name offset outside the strings block.");
                    string name = ReadCString(strings, (int)nameOffset, out _);
                    byte[] value = structure.Slice(pos, (int)length).ToArray();
                    pos = Align4(pos + (int)length);
                    stack.Peek().Properties.Add(new FdtProperty(name, value));
                    break;
                }
                case FdtBuilder.TokenNop:
                    break;
                case FdtBuilder.TokenEnd:
                    if (stack.Count != 0 || root is null) throw new FormatException("END before the root node was closed.");
                    return new FdtTree(version, lastCompatible, bootCpu, reservations, root);
                default:
                    throw new FormatException($"Unknown structure token 0x{token:x}.");
            }
        }
    }

    private static uint U32(ReadOnlySpan<byte> blob, int offset) => BinaryPrimitives.ReadUInt32BigEndian(blob[offset..]);

    private static ReadOnlySpan<byte> Slice(ReadOnlySpan<byte> blob, uint offset, uint size, string what)
    {
        if (offset > (uint)blob.Length || size > (uint)blob.Length - offset)
            throw new FormatException($"The {what} lies outside the blob.");
        return blob.Slice((int)offset, (int)size);
    }

    private static uint ReadToken(ReadOnlySpan<byte> structure, ref int pos)
    {
        if (pos < 0 || pos > structure.Length - 4) throw new FormatException("Structure block ends without FDT_END.");
        uint value = BinaryPrimitives.ReadUInt32BigEndian(structure[pos..]);
        pos += 4;
        return value;
    }

    private static string ReadCString(ReadOnlySpan<byte> data, int offset, out int length)
    {
        if (offset < 0 || offset >= data.Length) throw new FormatException("String outside its block.");
        int end = data[offset..].IndexOf((byte)0);
        if (end < 0) throw new FormatException("Unterminated string.");
        length = end;
        return Encoding.UTF8.GetString(data.Slice(offset, end));
    }

    private static int Align4(int value) => (value + 3) & ~3;
}
