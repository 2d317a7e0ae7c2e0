using System.Collections.Immutable;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Trapeze.Core.Cpu;

/// <summary>
/// What a snapshot keeps of one hart (STYLE rule 8): the architectural part of <see cref="HartState"/> as its
/// raw bytes (rule 3: snapshots copy the struct), plus the two pieces of hart state that live outside it —
/// the software-written SEIP bit and whether the hart is parked (HSM STOPPED). Everything after the "Derived
/// state" line of <see cref="HartState"/> (TLB pointers, translation contexts) is rebuilt on restore, as are
/// the TLBs, decoded blocks and translations. (The name avoids <see cref="HartState"/>, the live struct.)
/// </summary>
/// <param name="Architectural">The first <see cref="Hart.ArchitecturalStateSize"/> bytes of the struct.</param>
public sealed record HartSavedState(ImmutableArray<byte> Architectural, bool SeipSoftware, bool Parked);

public sealed unsafe partial class Hart
{
    /// <summary>Bytes of <see cref="HartState"/> before its derived section (the part snapshots keep).</summary>
    public static int ArchitecturalStateSize { get; } = (int)Marshal.OffsetOf<HartState>(nameof(HartState.DataCtx));

    /// <summary>A fingerprint of the architectural part's layout (field names, element types, offsets and
    /// lengths), so that a snapshot taken by a build with a different struct is refused instead of being
    /// copied into the wrong fields.</summary>
    public static ulong ArchitecturalLayoutId { get; } = ComputeLayoutId();

    private static ulong ComputeLayoutId()
    {
        ulong hash = 0xcbf2_9ce4_8422_2325; // FNV-1a 64
        void Mix(string text)
        {
            foreach (char c in text) hash = (hash ^ c) * 0x100_0000_01b3;
        }
        foreach (FieldInfo f in typeof(HartState).GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
        {
            int offset = (int)Marshal.OffsetOf<HartState>(f.Name);
            if (offset >= ArchitecturalStateSize) continue;
            var buffer = f.GetCustomAttribute<FixedBufferAttribute>();
            Mix($"{f.Name}:{buffer?.ElementType.Name ?? f.FieldType.Name}[{buffer?.Length ?? 1}]@{offset};");
        }
        return hash;
    }

    /// <summary>Why <paramref name="saved"/> cannot be restored into a hart of this build, or null: its size, or
    /// a privilege level or WFI flag no hart could have had.</summary>
    public static string? CheckSavedState(HartSavedState saved)
    {
        ArgumentNullException.ThrowIfNull(saved);
        if (saved.Architectural.Length != ArchitecturalStateSize)
            return $"hart state of {saved.Architectural.Length} bytes; this build's is {ArchitecturalStateSize}";
        byte priv = saved.Architectural[(int)Marshal.OffsetOf<HartState>(nameof(HartState.Priv))];
        if (priv is not ((byte)Privilege.User or (byte)Privilege.Supervisor or (byte)Privilege.Machine))
            return $"privilege level {priv} is not one this hart implements";
        if (saved.Architectural[(int)Marshal.OffsetOf<HartState>(nameof(HartState.Wfi))] > 1) return "a WFI flag other than 0 or 1";
        ulong mstatus = BitConverter.ToUInt64(saved.Architectural.AsSpan()[(int)Marshal.OffsetOf<HartState>(nameof(HartState.Mstatus))..]);
        // MPP is WARL: no write leaves the reserved value 2 there, and MRET would enter a privilege level that does not exist.
        if (((mstatus & Mstatus.MppMask) >> Mstatus.MppShift) == 2) return "mstatus.MPP holds the reserved value 2";
        return null;
    }

    /// <summary>Captures the hart. Only while its thread is not running (the machine is paused or not started).</summary>
    public HartSavedState SaveState()
    {
        var bytes = new ReadOnlySpan<byte>(_state, ArchitecturalStateSize).ToArray();
        return new HartSavedState(ImmutableCollectionsMarshal.AsImmutableArray(bytes), _seipSoftware, _parked);
    }

    /// <summary>
    /// Puts the hart in a saved state. Only while its thread is not running. The LR/SC reservation is dropped
    /// (an SC may always fail), TLBs are flushed, decoded blocks and their translations dropped, pending fences
    /// and a pending HSM start forgotten: nothing derived from the old state survives. <c>mtimecmp</c> and the
    /// interrupt lines come from the devices' own restore (CLINT, PLIC).
    /// </summary>
    public void RestoreState(HartSavedState saved)
    {
        if (CheckSavedState(saved) is { } problem) throw new ArgumentException($"hart {HartId}: {problem}");
        saved.Architectural.AsSpan().CopyTo(new Span<byte>(_state, ArchitecturalStateSize));
        _state->X[0] = 0;
        _state->ReservationValid = 0;
        _state->PendingCause = 0;
        _state->PendingTval = 0;
        _seipSoftware = saved.SeipSoftware;
        _parked = saved.Parked;
        DropDerivedState();
    }

    /// <summary>
    /// After the hart's thread has returned from <see cref="Run"/> (a pause): finishes what other harts asked of
    /// it and it had not got to — fences (their poster may already have stopped waiting for them) and an HSM
    /// start handed over just before the stop — so that a stopped hart has nothing in flight to lose in a
    /// snapshot. Only while the thread is not running.
    /// </summary>
    public void SettleStopped()
    {
        ServiceRequests();
        if (_parked) TryApplyStart();
    }
}
