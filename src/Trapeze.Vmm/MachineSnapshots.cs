using Trapeze.Machine;

namespace Trapeze.Vmm;

/// <summary>
/// The machine's pause, resume, snapshot save and restore as the VM process uses them: the one place that
/// waits for the machine layer's snapshot support. Until it exists every call is refused as not available,
/// and the actions, endpoints and verbs built on these already behave as they will (with that refusal).
/// </summary>
internal static class MachineSnapshots
{
    private static VmException NotYet(string what) =>
        new(VmErrorKind.NotAvailable, $"{what} is not available yet: this build has no machine snapshots");

    public static bool IsPaused(VirtMachine machine) => false;

    public static void Pause(VirtMachine machine) => throw NotYet("pause");

    public static void Resume(VirtMachine machine) => throw NotYet("resume");

    public static void Save(VirtMachine machine, string path) => throw NotYet("snapshot save");

    public static void Restore(VirtMachine machine, string path) => throw NotYet("snapshot restore");
}
