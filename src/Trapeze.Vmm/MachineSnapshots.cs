using Trapeze.Machine;
using Trapeze.Machine.Snapshot;

namespace Trapeze.Vmm;

/// <summary>
/// The machine's pause, resume, snapshot save and restore as the VM process uses them, with a snapshot the
/// machine refuses (truncated, corrupt, of another configuration, not writable) turned into a one-line
/// refusal of the action.
/// </summary>
internal static class MachineSnapshots
{
    public static bool IsPaused(VirtMachine machine) => machine.IsPaused;

    public static void Pause(VirtMachine machine) => machine.Pause();

    public static void Resume(VirtMachine machine) => machine.Resume();

    /// <summary>Writes the machine to <paramref name="path"/>; a running machine is paused meanwhile and goes on
    /// afterwards. Its disks are flushed first, but not copied: a snapshot goes with the disks as they are when
    /// it is restored, as Firecracker's do.</summary>
    public static void Save(VirtMachine machine, string path)
    {
        try { MachineSnapshot.Save(machine, path); }
        catch (SnapshotException e) { throw VmException.BadRequest(e.Message); }
    }

    /// <summary>Fills a machine that was built but not loaded, so that its first Run continues the guest.</summary>
    public static void Restore(VirtMachine machine, string path)
    {
        try { MachineSnapshot.Restore(machine, path); }
        catch (SnapshotException e) { throw VmException.BadRequest(e.Message); }
    }
}
