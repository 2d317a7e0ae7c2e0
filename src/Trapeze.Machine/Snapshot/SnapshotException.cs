namespace Trapeze.Machine.Snapshot;

/// <summary>A snapshot that cannot be used — truncated, corrupt, not a snapshot, of another format version, or
/// of a differently configured machine — or one that cannot be written. A user error, reported in one line.</summary>
public sealed class SnapshotException : Exception
{
    public SnapshotException(string message) : base(message) { }

    public SnapshotException(string message, Exception inner) : base(message, inner) { }
}
