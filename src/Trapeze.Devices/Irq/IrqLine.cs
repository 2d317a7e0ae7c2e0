namespace Trapeze.Devices.Irq;

/// <summary>
/// One interrupt wire from a device to an interrupt controller: the sink and the source number there.
/// A device knows nothing of the CPU beyond this. <c>default</c> is an unconnected line (levels go nowhere).
/// </summary>
public readonly record struct IrqLine(IIrqSink? Sink, int Number)
{
    public bool IsConnected => Sink is not null;

    public void Set(bool level) => Sink?.SetIrqLevel(Number, level);

    public void Raise() => Set(true);

    public void Lower() => Set(false);
}
