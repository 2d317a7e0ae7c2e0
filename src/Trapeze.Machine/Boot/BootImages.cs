namespace Trapeze.Machine.Boot;

/// <summary>A file read for booting, with the name used in messages.</summary>
public sealed record BootFile(string Name, ReadOnlyMemory<byte> Data);

/// <summary>The firmware, kernel and initrd of a configuration, read and identified once.</summary>
public sealed record BootImages(BootFile? Firmware, KernelImage? Kernel, BootFile? Initrd)
{
    public static BootImages Read(MachineConfig config)
    {
        BootFile? firmware = null;
        if (config.Firmware == FirmwareKind.File)
        {
            string path = config.FirmwarePath ?? MachineConfig.DebianOpenSbi;
            if (config.FirmwarePath == null && !File.Exists(path))
                throw new MachineConfigException(
                    $"no firmware given and Debian's OpenSBI is not installed ({path}); install the opensbi package or use --bios none");
            firmware = ReadFile(path, "firmware");
        }

        KernelImage? kernel = null;
        if (config.KernelPath != null)
        {
            var k = ReadFile(config.KernelPath, "kernel");
            kernel = KernelImage.Identify(k.Name, k.Data);
        }
        BootFile? initrd = config.InitrdPath != null ? ReadFile(config.InitrdPath, "initrd") : null;
        if (initrd != null && kernel == null)
            throw new MachineConfigException("--initrd needs --kernel");
        if (config.Firmware == FirmwareKind.Builtin && kernel == null)
            throw new MachineConfigException("--bios builtin needs --kernel: the built-in SBI enters a kernel in S-mode");
        return new BootImages(firmware, kernel, initrd);
    }

    private static BootFile ReadFile(string path, string what)
    {
        try
        {
            return new BootFile(Path.GetFileName(path), File.ReadAllBytes(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MachineConfigException($"cannot read {what} '{path}': {e.Message}");
        }
    }
}
