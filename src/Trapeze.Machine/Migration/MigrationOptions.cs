namespace Trapeze.Machine.Migration;

/// <summary>How the source runs a live migration.</summary>
public sealed record MigrationOptions
{
    /// <summary>Pauses, resumes and moves the harts' and devices' state (by default through the machine's own
    /// Pause/Resume and its snapshot state).</summary>
    public IMachineStateTransfer State { get; init; } = SnapshotStateTransfer.Instance;

    /// <summary>The downtime aimed at: pre-copy stops once the pages still dirty could be sent in this time at
    /// the bandwidth the last round achieved (QEMU's downtime-limit, 300 ms by default there too).</summary>
    public TimeSpan TargetDowntime { get; init; } = TimeSpan.FromMilliseconds(300);

    /// <summary>Pre-copy rounds at most, the first (full) one included; then stop-and-copy whatever is dirty.</summary>
    public int MaxRounds { get; init; } = 30;

    /// <summary>Rounds in a row in which the dirty set did not shrink before pre-copy is given up as not
    /// converging (the guest dirties memory faster than it is sent) and stop-and-copy follows.</summary>
    public int MaxRoundsWithoutProgress { get; init; } = 4;

    /// <summary>How long the source waits for the destination's reply to the end of the migration.</summary>
    public TimeSpan ReplyTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Called after each round (progress output); may be null.</summary>
    public Action<MigrationRound>? OnRound { get; init; }
}

/// <summary>How the destination receives a live migration.</summary>
public sealed record ReceiveOptions
{
    /// <summary>Restores the harts' and devices' state and starts the machine (by default from its snapshot
    /// state, see <see cref="SnapshotStateTransfer.Start"/>).</summary>
    public IMachineStateTransfer State { get; init; } = SnapshotStateTransfer.Instance;

    /// <summary>The destination guest's console output.</summary>
    public Action<byte> ConsoleOutput { get; init; } = _ => { };

    /// <summary>Called with the machine once it is built, before anything is applied (tests, wiring of
    /// consoles); may be null.</summary>
    public Action<VirtMachine>? OnCreated { get; init; }
}

/// <summary>One round of pre-copy (or the final stop-and-copy round).</summary>
/// <param name="Number">1 for the full copy.</param>
/// <param name="Pages">Pages sent, zero pages included.</param>
/// <param name="Bytes">Bytes sent.</param>
/// <param name="Elapsed">From the collection to the last page sent.</param>
/// <param name="StopAndCopy">The final round, sent with the source paused.</param>
public sealed record MigrationRound(int Number, long Pages, long Bytes, TimeSpan Elapsed, bool StopAndCopy)
{
    /// <summary>Blocks of writable disks sent (<see cref="MigrationProtocol.DiskBlockSize"/> bytes each at most).</summary>
    public long DiskBlocks { get; init; }
}

/// <summary>What a completed migration did and cost.</summary>
public sealed record MigrationReport
{
    public required IReadOnlyList<MigrationRound> Rounds { get; init; }

    /// <summary>From the start of the migration to the destination's acknowledgement.</summary>
    public required TimeSpan TotalTime { get; init; }

    /// <summary>From the source's pause to the destination's acknowledgement that the guest runs there.</summary>
    public required TimeSpan Downtime { get; init; }

    /// <summary>The dirty set fell below the threshold; false when pre-copy was cut off by the round limit or
    /// for lack of progress.</summary>
    public required bool Converged { get; init; }

    public required long PagesSent { get; init; }

    /// <summary>Blocks of writable disks sent, in all rounds.</summary>
    public long DiskBlocksSent { get; init; }

    public required long BytesSent { get; init; }

    /// <summary>Bytes of hart and device state.</summary>
    public required long StateBytes { get; init; }

    public string Summary() =>
        $"migration: {Rounds.Count} rounds ({(Converged ? "converged" : "cut off")}), {PagesSent:N0} pages, " +
        (DiskBlocksSent > 0 ? $"{DiskBlocksSent:N0} disk blocks, " : "") +
        $"{BytesSent / (1024.0 * 1024.0):F1} MiB in {TotalTime.TotalMilliseconds:F0} ms; " +
        $"final round {Rounds[^1].Pages:N0} pages{(DiskBlocksSent > 0 ? $", {Rounds[^1].DiskBlocks:N0} disk blocks" : "")}; state {StateBytes:N0} bytes; downtime {Downtime.TotalMilliseconds:F1} ms";
}
