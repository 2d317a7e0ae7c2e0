using Trapeze.Machine.Snapshot;

namespace Trapeze.Machine.Migration;

/// <summary>
/// The state transfer of a machine run by <see cref="VirtMachine.Run"/>: pausing with
/// <see cref="VirtMachine.Pause"/>, harts and devices through <see cref="MachineSnapshot.SaveState"/> and
/// <see cref="MachineSnapshot.RestoreState"/>.
/// <para>
/// On the destination, an owner that wants the guest's exit code pauses the machine and starts
/// <see cref="VirtMachine.Run"/> on a thread of its own when it is created (<see cref="ReceiveOptions.OnCreated"/>,
/// e.g. <see cref="RunPausedOnNewThread"/>): Run waits, and <see cref="Start"/> resumes it once the state is in.
/// </para>
/// </summary>
public sealed class SnapshotStateTransfer : IMachineStateTransfer
{
    public static SnapshotStateTransfer Instance { get; } = new();

    public bool Pause(VirtMachine machine)
    {
        // Not one atomic step with Pause: the monitor carries out one action on a machine at a time, so nothing
        // else pauses or resumes it during a migration.
        if (machine.IsPaused) return false;
        machine.Pause();
        return true;
    }

    public void Resume(VirtMachine machine) => machine.Resume();

    public void SaveState(VirtMachine machine, Stream destination) => MachineSnapshot.SaveState(machine, destination);

    public void RestoreState(VirtMachine machine, Stream source) => MachineSnapshot.RestoreState(machine, source);

    /// <summary>A paused machine is resumed (its owner's Run waits for that); one that nobody runs is started
    /// on a background thread of its own.</summary>
    public void Start(VirtMachine machine)
    {
        if (machine.IsPaused)
        {
            machine.Resume();
            return;
        }
        new Thread(() => machine.Run()) { IsBackground = true, Name = "migrated-machine" }.Start();
    }

    /// <summary>
    /// For <see cref="ReceiveOptions.OnCreated"/>: pauses the new machine and starts <see cref="VirtMachine.Run"/>
    /// on a background thread, which reports the guest's exit code to <paramref name="exited"/> (or a failure of
    /// the machine to <paramref name="failed"/>) when it stops.
    /// </summary>
    public static Action<VirtMachine> RunPausedOnNewThread(Action<VirtMachine, int>? exited = null, Action<VirtMachine, Exception>? failed = null) => machine =>
    {
        machine.Pause();
        var thread = new Thread(() =>
        {
            try
            {
                int code = machine.Run();
                exited?.Invoke(machine, code);
            }
            catch (Exception e) when (failed != null)
            {
                failed(machine, e);
            }
        }) { IsBackground = true, Name = "migrated-machine" };
        thread.Start();
    };
}
