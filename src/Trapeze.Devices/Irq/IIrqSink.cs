namespace Trapeze.Devices.Irq;

/// <summary>
/// Something that receives interrupt request levels from devices: on the virt board, the PLIC.
/// Callable from any thread (hart threads touching device registers, device and host threads).
/// </summary>
public interface IIrqSink
{
    /// <summary>Drives source <paramref name="source"/> to <paramref name="level"/>. Sources are
    /// level-triggered: a device holds its line high for as long as it wants service.</summary>
    void SetIrqLevel(int source, bool level);
}
