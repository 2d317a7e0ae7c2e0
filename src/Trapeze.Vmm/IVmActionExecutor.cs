namespace Trapeze.Vmm;

/// <summary>Something that carries out actions: the <see cref="VmManager"/> itself, or the daemon reached
/// through its socket (which hands them to its own manager).</summary>
public interface IVmActionExecutor
{
    VmResult Execute(VmAction action);
}
