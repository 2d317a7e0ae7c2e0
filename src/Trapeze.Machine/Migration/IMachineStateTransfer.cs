namespace Trapeze.Machine.Migration;

/// <summary>
/// What a migration needs of a machine besides its RAM: holding it still, and moving the state of its harts and
/// devices. RAM goes separately (pre-copy with dirty logging), so <see cref="SaveState"/> must leave it out.
/// </summary>
public interface IMachineStateTransfer
{
    /// <summary>Source: holds the machine still. When this returns no hart runs and no device writes RAM.</summary>
    void Pause(VirtMachine machine);

    /// <summary>Source: lets a paused machine go on (a migration that failed after the pause).</summary>
    void Resume(VirtMachine machine);

    /// <summary>Source, paused: writes the state of harts and devices — everything but RAM.</summary>
    void SaveState(VirtMachine machine, Stream destination);

    /// <summary>Destination: applies what <see cref="SaveState"/> wrote to a machine built from the same
    /// configuration whose RAM is already in place and which has not run.</summary>
    void RestoreState(VirtMachine machine, Stream source);

    /// <summary>Destination: sets the restored machine running; returns once it does (not when it stops).</summary>
    void Start(VirtMachine machine);
}
