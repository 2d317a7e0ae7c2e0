namespace Trapeze.Machine.Boot;

/// <summary>
/// A boot image (firmware, kernel, initrd, device tree) cannot be used. The message is one line that names
/// the file and the exact reason, e.g. <c>kernel.elf: not a RISC-V ELF (e_machine 62)</c>, so that the CLI
/// can print it as it is.
/// </summary>
public sealed class BootImageException : Exception
{
    public BootImageException(string message)
        : base(message)
    {
    }

    public BootImageException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    internal static BootImageException For(string displayName, string reason) => new($"{displayName}: {reason}");
}
