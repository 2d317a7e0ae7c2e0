namespace Trapeze.Core.Memory;

/// <summary>
/// The system bus: guest-physical address to DRAM, ROM or a device register window. Memory regions are
/// few and the list is fixed after the board is built, so lookups are short linear scans.
/// </summary>
public sealed class Bus
{
    private GuestRam[] _memories = [];
    private MmioRegion[] _mmio = [];

    /// <summary>Main memory (the region the TLB fast path and DMA mostly see).</summary>
    public GuestRam? Dram { get; private set; }

    public IReadOnlyList<MmioRegion> Devices => _mmio;
    public IReadOnlyList<GuestRam> Memories => _memories;

    /// <summary>Called after a write to a page flagged <see cref="PageFlags.WriteWatched"/> (on the writing
    /// hart's thread, after the data is in memory).</summary>
    public Action<ulong, int>? WriteWatch { get; set; }

    /// <summary>Bumped when a page becomes write-watched or starts holding code, so every hart drops the
    /// write TLB entries it made before (see <see cref="Mmu.SoftMmu.SyncWatches"/>).</summary>
    public int WatchGeneration;

    private Mmu.SoftMmu[] _mmus = [];

    /// <summary>The MMUs of all harts on this bus (for cross-hart code-coherence checks).</summary>
    public IReadOnlyList<Mmu.SoftMmu> Mmus => _mmus;

    public void RegisterMmu(Mmu.SoftMmu mmu)
    {
        lock (this) _mmus = [.. _mmus, mmu];
    }

    public void AddMemory(GuestRam ram, bool isDram = false)
    {
        CheckOverlap(ram.Base, ram.Size, ram.Name);
        _memories = [.. _memories, ram];
        if (isDram) Dram = ram;
    }

    public void AddDevice(ulong baseAddress, IMmioDevice device)
    {
        CheckOverlap(baseAddress, device.Size, device.Name);
        _mmio = [.. _mmio, new MmioRegion(baseAddress, device.Size, device)];
    }

    private void CheckOverlap(ulong b, ulong size, string name)
    {
        if (b + size < b) throw new ArgumentException($"{name}: region wraps the address space");
        foreach (var m in _memories)
            if (b < m.Base + m.Size && m.Base < b + size) throw new ArgumentException($"{name} overlaps {m.Name}");
        foreach (var r in _mmio)
            if (b < r.Base + r.Size && r.Base < b + size) throw new ArgumentException($"{name} overlaps {r.Device.Name}");
    }

    /// <summary>The memory region holding <paramref name="pa"/>, or null.</summary>
    public GuestRam? FindMemory(ulong pa)
    {
        var dram = Dram;
        if (dram != null && dram.Contains(pa)) return dram;
        foreach (var m in _memories)
            if (m.Contains(pa)) return m;
        return null;
    }

    /// <summary>The device window holding the access [pa, pa+size), or null.</summary>
    public MmioRegion? FindDevice(ulong pa, int size)
    {
        foreach (var r in _mmio)
            if (pa - r.Base < r.Size && (ulong)size <= r.Size - (pa - r.Base)) return r;
        return null;
    }

    /// <summary>Marks or unmarks a RAM page as write-watched.</summary>
    public void SetWriteWatch(ulong pa, bool watched)
    {
        var m = FindMemory(pa) ?? throw new ArgumentException($"0x{pa:x} is not in guest memory");
        m.SetFlag(m.PageOf(pa), PageFlags.WriteWatched, watched);
        Interlocked.Increment(ref WatchGeneration);
    }
}

/// <summary>A device's register window on the bus, with the count of guest accesses to it (each one an
/// exit from the fast path: the "MMIO by device" statistic).</summary>
public sealed class MmioRegion(ulong baseAddress, ulong size, IMmioDevice device)
{
    public ulong Base { get; } = baseAddress;
    public ulong Size { get; } = size;
    public IMmioDevice Device { get; } = device;
    public long Accesses;
}
