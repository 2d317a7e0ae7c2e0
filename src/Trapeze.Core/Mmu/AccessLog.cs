namespace Trapeze.Core.Mmu;

/// <summary>
/// What one run of guest code did to memory, for lockstep comparison (see Hart.Lockstep): the old value
/// of every aligned 8-byte RAM word it wrote (so the run can be undone), and its device accesses in order. In replay
/// mode device accesses are not performed: reads return what the recorded run read, writes are checked
/// against the recorded ones, so a device sees each access once.
/// </summary>
public sealed unsafe class AccessLog
{
    public readonly record struct MmioAccess(ulong Address, int Size, bool Write, ulong Value, bool Accepted);

    private readonly Dictionary<ulong, ulong> _oldWords = [];
    private readonly List<(nint Entry, TlbEntry Old)> _tlbFills = [];
    private readonly List<MmioAccess> _mmio = [];
    private int _replayIndex;

    /// <summary>Device accesses are served from <see cref="Recorded"/> instead of the devices.</summary>
    public bool Replay { get; private set; }

    /// <summary>The recorded run's device accesses (replay mode).</summary>
    public IReadOnlyList<MmioAccess> Recorded { get; private set; } = [];

    /// <summary>The first device access that differed from the recorded run, if any.</summary>
    public string? ReplayMismatch { get; private set; }

    /// <summary>Aligned guest-physical word address to its value before the run's first write to it.</summary>
    public IReadOnlyDictionary<ulong, ulong> OldWords => _oldWords;
    public IReadOnlyList<MmioAccess> Mmio => _mmio;

    /// <summary>The run wrote a write-watched page (HTIF tohost): the watcher has seen it and may have
    /// changed memory in response, so the run cannot be undone and replayed.</summary>
    public bool WroteWatchedPage { get; set; }

    public void Record()
    {
        WroteWatchedPage = false;
        _oldWords.Clear();
        _tlbFills.Clear();
        _mmio.Clear();
        Replay = false;
        ReplayMismatch = null;
    }

    public void ReplayFrom(AccessLog recorded)
    {
        Record();
        Replay = true;
        Recorded = [.. recorded._mmio];
        _replayIndex = 0;
    }

    /// <summary>Called before <paramref name="size"/> bytes at <paramref name="host"/> (guest-physical
    /// <paramref name="pa"/>) are written.</summary>
    public void BeforeRamWrite(byte* host, ulong pa, int size)
    {
        // Writes are naturally aligned or split into bytes by the MMU, so one aligned word holds them
        // (RAM regions are whole pages, so the word is inside the region).
        ulong word = pa & ~7UL;
        if (!_oldWords.ContainsKey(word)) _oldWords[word] = *(ulong*)(host - (pa & 7));
    }

    /// <summary>Called before a TLB entry is overwritten by a fill, so that the fills can be undone: a
    /// second run must start from the same cached translations as the first, to walk the same page
    /// tables (and set the same A/D bits).</summary>
    public void BeforeTlbFill(ref TlbEntry e)
    {
        fixed (TlbEntry* p = &e) _tlbFills.Add(((nint)p, e));
    }

    /// <summary>Puts back the TLB entries the run's fills replaced, newest first.</summary>
    public void UndoTlbFills()
    {
        for (int i = _tlbFills.Count - 1; i >= 0; i--) *(TlbEntry*)_tlbFills[i].Entry = _tlbFills[i].Old;
        _tlbFills.Clear();
    }

    public void RecordMmio(ulong pa, int size, bool write, ulong value, bool accepted) =>
        _mmio.Add(new MmioAccess(pa, size, write, value, accepted));

    /// <summary>Replays a device read: true with the recorded value when the access matches the next
    /// recorded one.</summary>
    public bool ReplayRead(ulong pa, int size, out ulong value, out bool accepted)
    {
        var a = Next(pa, size, write: false, 0);
        value = a?.Value ?? 0;
        accepted = a?.Accepted ?? false;
        _mmio.Add(new MmioAccess(pa, size, false, value, accepted));
        return a != null;
    }

    public bool ReplayWrite(ulong pa, int size, ulong value, out bool accepted)
    {
        var a = Next(pa, size, write: true, value);
        accepted = a?.Accepted ?? false;
        _mmio.Add(new MmioAccess(pa, size, true, value, accepted));
        return a != null;
    }

    private MmioAccess? Next(ulong pa, int size, bool write, ulong value)
    {
        if (_replayIndex >= Recorded.Count)
        {
            ReplayMismatch ??= $"device {(write ? "write" : "read")} of {size} bytes at 0x{pa:x} that the translated run did not make";
            return null;
        }
        var a = Recorded[_replayIndex++];
        if (a.Address != pa || a.Size != size || a.Write != write || (write && a.Value != value))
        {
            ReplayMismatch ??= $"device access #{_replayIndex}: interpreter {(write ? "write" : "read")} {size} bytes at 0x{pa:x}" +
                               (write ? $" = 0x{value:x}" : "") + $", translated {(a.Write ? "write" : "read")} {a.Size} bytes at 0x{a.Address:x}" +
                               (a.Write ? $" = 0x{a.Value:x}" : "");
            return null;
        }
        return a;
    }

    /// <summary>Device accesses of the recorded run the replay did not make.</summary>
    public int UnreplayedCount => Recorded.Count - _replayIndex;
}
