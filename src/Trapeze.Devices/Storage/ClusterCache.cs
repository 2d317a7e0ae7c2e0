namespace Trapeze.Devices.Storage;

/// <summary>
/// A bounded least-recently-used cache of metadata clusters (L2 tables, refcount blocks), keyed by their
/// offset in the image file. It holds copies of what is on disk: every change is written through at once,
/// so evicting an entry never needs a write and the order of metadata writes is the order of the code.
/// </summary>
internal sealed class ClusterCache
{
    private readonly Dictionary<ulong, LinkedListNode<(ulong Offset, byte[] Data)>> _map = new();
    private readonly LinkedList<(ulong Offset, byte[] Data)> _order = new();

    public ClusterCache(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
    }

    public int Capacity { get; }

    public int Count => _map.Count;

    public byte[]? Get(ulong offset)
    {
        if (!_map.TryGetValue(offset, out var node)) return null;
        if (node != _order.First)
        {
            _order.Remove(node);
            _order.AddFirst(node);
        }
        return node.Value.Data;
    }

    public void Put(ulong offset, byte[] data)
    {
        if (_map.TryGetValue(offset, out var old))
        {
            _order.Remove(old);
            _map.Remove(offset);
        }
        while (_map.Count >= Capacity)
        {
            var last = _order.Last!;
            _order.RemoveLast();
            _map.Remove(last.Value.Offset);
        }
        _map[offset] = _order.AddFirst((offset, data));
    }

    public void Remove(ulong offset)
    {
        if (_map.Remove(offset, out var node)) _order.Remove(node);
    }
}
