using Trapeze.Core.Cpu;

namespace Trapeze.Jit;

/// <summary>
/// Translation requests waiting for the compile thread. Not first-in first-out: <see cref="Take"/> hands
/// out the block that has run most, whose count keeps growing while it waits, so that when requests
/// arrive faster than RyuJIT compiles them (a Linux boot) the hottest code is translated first, and code
/// that was hot only briefly waits. Requests whose page was written since (stale) are dropped.
/// </summary>
public sealed class TranslationQueue(TranslatorStatistics? stats = null)
{
    public const int Capacity = 1 << 14;

    private readonly List<(Block Block, Region Region)> _pending = [];
    private bool _closed;

    /// <summary>Adds a request; false when the queue is full or closed (the block stays interpreted).</summary>
    public bool Add(Block block, Region region)
    {
        lock (_pending)
        {
            if (_closed || _pending.Count >= Capacity) return false;
            _pending.Add((block, region));
            Monitor.Pulse(_pending);
            return true;
        }
    }

    /// <summary>The hottest current request; waits while there is none (<paramref name="wait"/>), returns
    /// null when there is none and not waiting, or once the queue is closed.</summary>
    public (Block Block, Region Region)? Take(bool wait = true)
    {
        lock (_pending)
        {
            while (!_closed)
            {
                int best = -1;
                long bestRuns = -1;
                for (int i = _pending.Count - 1; i >= 0; i--)
                {
                    Block b = _pending[i].Block;
                    if (!b.IsCurrent)
                    {
                        RemoveAt(i);
                        if (stats != null) Interlocked.Increment(ref stats.Discarded);
                        if (best == _pending.Count) best = i; // the best was the last, moved into slot i
                        continue;
                    }
                    long runs = Volatile.Read(ref b.Executions);
                    if (runs > bestRuns) { best = i; bestRuns = runs; }
                }
                if (best >= 0)
                {
                    var item = _pending[best];
                    RemoveAt(best);
                    return item;
                }
                if (!wait) return null;
                Monitor.Wait(_pending);
            }
            return null;
        }
    }

    /// <summary>Ends every wait; later requests are refused.</summary>
    public void Close()
    {
        lock (_pending)
        {
            _closed = true;
            _pending.Clear();
            Monitor.PulseAll(_pending);
        }
    }

    private void RemoveAt(int i)
    {
        _pending[i] = _pending[^1];
        _pending.RemoveAt(_pending.Count - 1);
    }
}
