using Trapeze.Machine;

namespace Trapeze.Cli;

/// <summary>The machine options shared by commands that boot a VM.</summary>
public static class MachineOptions
{
    public static readonly string[] Valued = ["bios", "kernel", "initrd", "append", "mem", "smp", "dump-dtb", "jit-threshold", "lockstep"];

    /// <summary>Flags every machine-booting command accepts.</summary>
    public static readonly string[] Flags = ["no-jit"];

    public static MachineConfig Parse(ArgReader a)
    {
        var config = new MachineConfig();
        string? bios = a.Value("bios");
        config = bios switch
        {
            null => config with { Firmware = FirmwareKind.File, FirmwarePath = null },
            "none" => config with { Firmware = FirmwareKind.None },
            "builtin" => config with { Firmware = FirmwareKind.Builtin },
            "" => throw new UsageException("--bios: empty path"),
            _ => config with { Firmware = FirmwareKind.File, FirmwarePath = bios },
        };
        if (a.Value("kernel") is { } k) config = config with { KernelPath = k };
        if (a.Value("initrd") is { } i) config = config with { InitrdPath = i };
        if (a.Value("append") is { } ap) config = config with { BootArgs = ap };
        if (a.Value("mem") is { } m) config = config with { MemorySize = ArgReader.ParseSize("mem", m) };
        if (a.Value("smp") is { } s) config = config with { Harts = ArgReader.ParseInt("smp", s, 1, MachineConfig.MaxHarts) };
        if (a.Flag("no-jit")) config = config with { Jit = false };
        if (a.Value("jit-threshold") is { } jt) config = config with { JitThreshold = ArgReader.ParseInt("jit-threshold", jt, 0, 1_000_000) };
        if (a.Value("lockstep") is { } ls) config = config with { Lockstep = ArgReader.ParseInt("lockstep", ls, 1, 1_000_000_000) };
        if (config.MemorySize % 4096 != 0) throw new UsageException("--mem: size must be a multiple of 4 KiB");
        return config;
    }

    /// <summary>Prints the lockstep outcome (report of a divergence on stderr); returns the exit code to
    /// use instead of <paramref name="code"/>.</summary>
    public static int ReportLockstep(VirtMachine machine, int code)
    {
        if (machine.Lockstep is not { } ls) return code;
        if (ls.Divergence != null) Console.Error.Write(ls.Divergence);
        Console.Error.WriteLine(ls.Summary);
        return ls.Divergence != null ? VirtMachine.LockstepExitCode : code;
    }

    public static void DumpDtbIfAsked(ArgReader a, VirtMachine machine)
    {
        if (a.Value("dump-dtb") is not { } path) return;
        try { File.WriteAllBytes(path, machine.DeviceTree); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"--dump-dtb: cannot write '{path}': {e.Message}");
        }
    }
}
