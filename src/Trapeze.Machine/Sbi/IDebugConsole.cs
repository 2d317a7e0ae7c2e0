using Trapeze.Devices.Serial;

namespace Trapeze.Machine.Sbi;

/// <summary>The console behind the SBI debug console extension (DBCN). Called on hart threads; must not block.</summary>
public interface IDebugConsole
{
    void Write(ReadOnlySpan<byte> data);

    /// <summary>Takes up to <c>destination.Length</c> bytes of pending input; 0 when there is none.</summary>
    int Read(Span<byte> destination);
}

/// <summary>The board's debug console: the UART's line, so SBI and UART output interleave as one stream and
/// input typed at the console can be read through either.</summary>
public sealed class UartDebugConsole(Ns16550 uart) : IDebugConsole
{
    public void Write(ReadOnlySpan<byte> data) => uart.WriteOutput(data);

    public int Read(Span<byte> destination) => uart.TakeInput(destination);
}
