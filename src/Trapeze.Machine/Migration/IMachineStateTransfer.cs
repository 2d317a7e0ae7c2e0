namespace Trapeze.Machine.Migration;

/// <summary>
/// What a migration needs of a machine besides its RAM: holding it still, and moving the state of its harts and
/// devices. RAM goes separately (pre-copy with dirty logging), so <see cref="SaveState"/> must leave it out.
/// </summary>
public interface IMachineStateTransfer
{
    /// <summary>Source: holds the machine still. When this returns no hart runs and no device writes RAM.
    /// Returns false when the machine was paused already (a failed migration then leaves it paused).</summary>
    bool Pause(VirtMachine machine);

    /// <summary>Source: lets the machine go on after a migration that failed once <see cref="Pause"/> had paused it.</summary>
    void Resume(VirtMachine machine);

    /// <summary>Source, paused: writes the state of harts and devices — everything but RAM.</summary>
    void SaveState(VirtMachine machine, Stream destination);

    /// <summary>Destination: applies what <see cref="SaveState"/> wrote to a machine built from the same
    /// configuration whose RAM is already in place and which has not run.</summary>
    void RestoreState(VirtMachine machine, Stream source);

    /// <summary>Destination: sets the restored machine running; returns once it does (not when it stops).</summary>
    void Start(VirtMachine machine);
}
