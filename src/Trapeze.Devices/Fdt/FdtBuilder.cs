using System.Buffers.Binary;
using System.Text;

namespace Trapeze.Devices.Fdt;

/// <summary>
/// Builds a flattened device tree blob (Devicetree Specification v0.4, chapter 5: header, memory
/// reservation block, structure block, strings block; format version 17, last compatible version 16).
/// Nodes are kept in memory until <see cref="Build"/>, so a device may add a node outside the node it
/// was handed (an absolute path such as <c>/poweroff</c>). Names are checked against the spec's
/// character sets; misuse throws (this is board-construction code, never driven by guest input).
/// </summary>
public sealed class FdtBuilder
{
    public const uint Magic = 0xd00dfeed;
    public const uint Version = 17;
    public const uint LastCompatibleVersion = 16;

    internal const uint TokenBeginNode = 1;
    internal const uint TokenEndNode = 2;
    internal const uint TokenProp = 3;
    internal const uint TokenNop = 4;
    internal const uint TokenEnd = 9;
    internal const int HeaderSize = 40;

    private sealed class Node(string name, Node? parent)
    {
        public readonly string Name = name;
        public readonly Node? Parent = parent;
        public readonly List<(string Name, byte[] Value)> Properties = [];
        public readonly List<Node> Children = [];
    }

    private readonly Node _root = new("", null);
    private readonly List<Node> _open = [];
    private readonly List<(ulong Address, ulong Size)> _reservations = [];
    private uint _lastPhandle;

    public FdtBuilder() => _open.Add(_root);

    /// <summary>The physical id of the boot CPU (header field <c>boot_cpuid_phys</c>).</summary>
    public uint BootCpuId { get; set; }

    /// <summary>Nesting depth of the node being written: 0 at the root.</summary>
    public int Depth => _open.Count - 1;

    /// <summary>Returns a fresh phandle value (1, 2, 3 ...), unique within this tree.</summary>
    public uint AllocatePhandle() => ++_lastPhandle;

    /// <summary>Adds an entry to the memory reservation block.</summary>
    public FdtBuilder AddMemoryReservation(ulong address, ulong size)
    {
        _reservations.Add((address, size));
        return this;
    }

    /// <summary>
    /// Opens a node. A plain name (<c>serial@10000000</c>) creates a child of the current node; a name
    /// starting with '/' (<c>/poweroff</c>, <c>/soc/foo@0</c>) creates the node at that absolute path,
    /// whose parent must already exist. Either way <see cref="EndNode"/> returns to the node that was
    /// current before.
    /// </summary>
    public FdtBuilder BeginNode(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        Node parent;
        string leaf;
        if (name.StartsWith('/'))
        {
            string[] parts = name.Split('/', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 0) throw new ArgumentException("The root node already exists.", nameof(name));
            parent = _root;
            for (int i = 0; i < parts.Length - 1; i++)
            {
                parent = FindChild(parent, parts[i])
                    ?? throw new InvalidOperationException($"Parent node '{parts[i]}' of '{name}' does not exist.");
            }
            leaf = parts[^1];
        }
        else
        {
            parent = Current;
            leaf = name;
        }

        ValidateNodeName(leaf);
        if (FindChild(parent, leaf) is not null)
            throw new InvalidOperationException($"Node '{leaf}' already exists under '{PathOf(parent)}'.");
        var node = new Node(leaf, parent);
        parent.Children.Add(node);
        _open.Add(node);
        return this;
    }

    /// <summary>Closes the node opened by the matching <see cref="BeginNode"/>.</summary>
    public FdtBuilder EndNode()
    {
        if (_open.Count <= 1) throw new InvalidOperationException("EndNode without a matching BeginNode.");
        _open.RemoveAt(_open.Count - 1);
        return this;
    }

    /// <summary>Adds a property with a raw value to the current node.</summary>
    public FdtBuilder Property(string name, ReadOnlySpan<byte> value)
    {
        ValidatePropertyName(name);
        Node node = Current;
        foreach (var (existing, _) in node.Properties)
        {
            if (existing == name)
                throw new InvalidOperationException($"Property '{name}' already set on '{PathOf(node)}'.");
        }
        node.Properties.Add((name, value.ToArray()));
        return this;
    }

    /// <summary>A property with no value (a boolean such as <c>interrupt-controller</c>).</summary>
    public FdtBuilder PropertyEmpty(string name) => Property(name, []);

    /// <summary>One big-endian 32-bit cell.</summary>
    public FdtBuilder PropertyU32(string name, uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return Property(name, bytes);
    }

    /// <summary>A list of big-endian 32-bit cells (<c>interrupts-extended</c>, <c>interrupts</c>...).</summary>
    public FdtBuilder PropertyU32Array(string name, params ReadOnlySpan<uint> values)
    {
        var bytes = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++)
            BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(i * 4), values[i]);
        return Property(name, bytes);
    }

    /// <summary>One big-endian 64-bit value (two cells, high first).</summary>
    public FdtBuilder PropertyU64(string name, ulong value)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, value);
        return Property(name, bytes);
    }

    /// <summary>
    /// Values of two cells each, as used for <c>reg</c> and <c>ranges</c> under <c>#address-cells = 2</c>
    /// and <c>#size-cells = 2</c>: <c>PropertyCells("reg", base, size)</c>.
    /// </summary>
    public FdtBuilder PropertyCells(string name, params ReadOnlySpan<ulong> values)
    {
        var bytes = new byte[values.Length * 8];
        for (int i = 0; i < values.Length; i++)
            BinaryPrimitives.WriteUInt64BigEndian(bytes.AsSpan(i * 8), values[i]);
        return Property(name, bytes);
    }

    /// <summary>A NUL-terminated string.</summary>
    public FdtBuilder PropertyString(string name, string value) => PropertyStringList(name, value);

    /// <summary>Several NUL-terminated strings back to back (<c>compatible</c>).</summary>
    public FdtBuilder PropertyStringList(string name, params ReadOnlySpan<string> values)
    {
        int length = 0;
        foreach (string s in values)
        {
            ArgumentNullException.ThrowIfNull(s);
            if (s.Contains('\0')) throw new ArgumentException("A string property cannot contain NUL.", nameof(values));
            length += Encoding.UTF8.GetByteCount(s) + 1;
        }
        var bytes = new byte[length];
        int at = 0;
        foreach (string s in values)
        {
            at += Encoding.UTF8.GetBytes(s, bytes.AsSpan(at));
            bytes[at++] = 0;
        }
        return Property(name, bytes);
    }

    /// <summary>Serialises the tree. All nodes opened with <see cref="BeginNode"/> must be closed.</summary>
    public byte[] Build()
    {
        if (_open.Count != 1) throw new InvalidOperationException($"{_open.Count - 1} node(s) still open.");

        var strings = new StringTable();
        var structure = new List<byte>(4096);
        WriteNode(_root, structure, strings);
        AppendU32(structure, TokenEnd);

        int reservationOffset = HeaderSize; // 40 is 8-byte aligned, as the spec requires
        int reservationSize = (_reservations.Count + 1) * 16;
        int structOffset = reservationOffset + reservationSize;
        int stringsOffset = structOffset + structure.Count;
        byte[] stringBytes = strings.ToArray();
        int total = Align4(stringsOffset + stringBytes.Length);

        var blob = new byte[total];
        Span<byte> span = blob;
        BinaryPrimitives.WriteUInt32BigEndian(span[0..], Magic);
        BinaryPrimitives.WriteUInt32BigEndian(span[4..], (uint)total);
        BinaryPrimitives.WriteUInt32BigEndian(span[8..], (uint)structOffset);
        BinaryPrimitives.WriteUInt32BigEndian(span[12..], (uint)stringsOffset);
        BinaryPrimitives.WriteUInt32BigEndian(span[16..], (uint)reservationOffset);
        BinaryPrimitives.WriteUInt32BigEndian(span[20..], Version);
        BinaryPrimitives.WriteUInt32BigEndian(span[24..], LastCompatibleVersion);
        BinaryPrimitives.WriteUInt32BigEndian(span[28..], BootCpuId);
        BinaryPrimitives.WriteUInt32BigEndian(span[32..], (uint)stringBytes.Length);
        BinaryPrimitives.WriteUInt32BigEndian(span[36..], (uint)structure.Count);

        int at = reservationOffset;
        foreach (var (address, size) in _reservations)
        {
            BinaryPrimitives.WriteUInt64BigEndian(span[at..], address);
            BinaryPrimitives.WriteUInt64BigEndian(span[(at + 8)..], size);
            at += 16;
        }
        // The terminating (0, 0) entry is already zero.
        structure.CopyTo(blob, structOffset);
        stringBytes.CopyTo(blob, stringsOffset);
        return blob;
    }

    private Node Current => _open[^1];

    private static Node? FindChild(Node parent, string name)
    {
        foreach (Node child in parent.Children)
        {
            if (child.Name == name) return child;
        }
        return null;
    }

    private static string PathOf(Node node)
    {
        if (node.Parent is null) return "/";
        var parts = new List<string>();
        for (Node? n = node; n?.Parent is not null; n = n.Parent) parts.Add(n.Name);
        parts.Reverse();
        return "/" + string.Join('/', parts);
    }

    private static void WriteNode(Node node, List<byte> output, StringTable strings)
    {
        AppendU32(output, TokenBeginNode);
        output.AddRange(Encoding.ASCII.GetBytes(node.Name));
        output.Add(0);
        Pad4(output);
        foreach (var (name, value) in node.Properties)
        {
            AppendU32(output, TokenProp);
            AppendU32(output, (uint)value.Length);
            AppendU32(output, (uint)strings.OffsetOf(name));
            output.AddRange(value);
            Pad4(output);
        }
        foreach (Node child in node.Children) WriteNode(child, output, strings);
        AppendU32(output, TokenEndNode);
    }

    private static void AppendU32(List<byte> output, uint value)
    {
        output.Add((byte)(value >> 24));
        output.Add((byte)(value >> 16));
        output.Add((byte)(value >> 8));
        output.Add((byte)value);
    }

    private static void Pad4(List<byte> output)
    {
        while ((output.Count & 3) != 0) output.Add(0);
    }

    private static int Align4(int value) => (value + 3) & ~3;

    // Devicetree spec 2.2.1: node-name[@unit-address], node-name 1-31 characters.
    private static void ValidateNodeName(string name)
    {
        if (name.Length == 0) throw new ArgumentException("Node names cannot be empty.", nameof(name));
        int at = name.IndexOf('@');
        string baseName = at < 0 ? name : name[..at];
        if (baseName.Length is 0 or > 31)
            throw new ArgumentException($"Node name '{name}' must have 1 to 31 characters before '@'.", nameof(name));
        foreach (char c in name.AsSpan(0, at < 0 ? name.Length : at))
        {
            if (!IsNodeChar(c)) throw new ArgumentException($"Invalid character '{c}' in node name '{name}'.", nameof(name));
        }
        if (at >= 0)
        {
            foreach (char c in name.AsSpan(at + 1))
            {
                if (!IsNodeChar(c)) throw new ArgumentException($"Invalid character '{c}' in unit address of '{name}'.", nameof(name));
            }
        }
    }

    // Devicetree spec 2.2.4.1: property names, 1-31 characters.
    private static void ValidatePropertyName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length is 0 or > 31)
            throw new ArgumentException($"Property name '{name}' must have 1 to 31 characters.", nameof(name));
        foreach (char c in name)
        {
            if (!IsNodeChar(c) && c != '?' && c != '#')
                throw new ArgumentException($"Invalid character '{c}' in property name '{name}'.", nameof(name));
        }
    }

    private static bool IsNodeChar(char c) =>
        c is (>= '0' and <= '9') or (>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or ',' or '.' or '_' or '+' or '-';

    /// <summary>The strings block: each property name stored once.</summary>
    private sealed class StringTable
    {
        private readonly Dictionary<string, int> _offsets = new(StringComparer.Ordinal);
        private readonly List<byte> _bytes = [];

        public int OffsetOf(string name)
        {
            if (_offsets.TryGetValue(name, out int offset)) return offset;
            offset = _bytes.Count;
            _bytes.AddRange(Encoding.ASCII.GetBytes(name));
            _bytes.Add(0);
            _offsets.Add(name, offset);
            return offset;
        }

        public byte[] ToArray() => [.. _bytes];
    }
}
