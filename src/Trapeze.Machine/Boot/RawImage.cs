namespace Trapeze.Machine.Boot;

/// <summary>
/// A flat binary (<c>fw_dynamic.bin</c>, <c>u-boot.bin</c>, an initrd, a device tree): loaded as it is at a
/// given address, like QEMU's <c>load_image_targphys</c>.
/// </summary>
public static class RawImage
{
    /// <summary>A one-segment plan putting the whole file at <paramref name="loadAddress"/>, entry at its first
    /// byte. An empty file is refused (QEMU's loaders treat a 0-byte load as failure too).</summary>
    public static LoadPlan CreateLoadPlan(string displayName, ReadOnlyMemory<byte> file, ulong loadAddress)
    {
        ArgumentNullException.ThrowIfNull(displayName);
        if (file.IsEmpty)
        {
            throw BootImageException.For(displayName, "empty file");
        }

        ulong length = (ulong)file.Length;
        if (length > ulong.MaxValue - loadAddress)
        {
            throw BootImageException.For(displayName,
                $"{BootFormat.Hex(length)} bytes at {BootFormat.Hex(loadAddress)} wrap around the end of the address space");
        }

        return new LoadPlan(displayName, [new LoadSegment(loadAddress, file, length)], loadAddress);
    }
}
