namespace Trapeze.Integration.Tests;

/// <summary>What a test needs from the host beyond the built <c>trapeze</c> command.</summary>
[Flags]
public enum Needs
{
    None = 0,
    /// <summary>Debian's <c>opensbi</c> package (generic platform firmware).</summary>
    OpenSbi = 1,
    /// <summary>Debian's <c>u-boot-qemu</c> package (qemu-riscv64_smode).</summary>
    UBoot = 2,
    /// <summary>A Linux pseudo-terminal and util-linux's <c>setsid</c>.</summary>
    Pty = 4,
    /// <summary>Debian's <c>binutils-riscv64-unknown-elf</c>.</summary>
    RiscvBinutils = 8,
    /// <summary><c>dtc</c> and <c>fdtget</c> (Debian's <c>device-tree-compiler</c>).</summary>
    Dtc = 16,
    /// <summary><c>qemu-system-riscv64</c> (Debian's <c>qemu-system-misc</c>).</summary>
    Qemu = 32,
    /// <summary><c>mkfs.ext4</c>, <c>debugfs</c> and <c>e2fsck</c> (Debian's <c>e2fsprogs</c>).</summary>
    E2fsprogs = 64,
    /// <summary>A TAP interface can be made (<c>/dev/net/tun</c> and root, for CAP_NET_ADMIN) and <c>ip</c> set up.</summary>
    Tap = 128,
}

/// <summary>The host files and tools the integration tests use, and why a test is skipped without them.</summary>
public static class HostPrerequisites
{
    public const string OpenSbiDir = "/usr/lib/riscv64-linux-gnu/opensbi/generic";
    public const string FwDynamic = OpenSbiDir + "/fw_dynamic.bin";
    public const string FwJump = OpenSbiDir + "/fw_jump.bin";
    public const string FwJumpElf = OpenSbiDir + "/fw_jump.elf";
    public const string UBoot = "/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin";
    public const string UBootElf = "/usr/lib/u-boot/qemu-riscv64_smode/uboot.elf";

    /// <summary>Why a test needing <paramref name="needs"/> cannot run here, or null when it can.</summary>
    public static string? MissingReason(Needs needs)
    {
        if (needs.HasFlag(Needs.OpenSbi) && MissingFile("opensbi", FwDynamic, FwJump, FwJumpElf) is { } sbi) return sbi;
        if (needs.HasFlag(Needs.UBoot) && MissingFile("u-boot-qemu", UBoot, UBootElf) is { } uboot) return uboot;
        if (needs.HasFlag(Needs.Pty))
        {
            if (!OperatingSystem.IsLinux()) return "needs a Linux pseudo-terminal";
            if (MissingTool("util-linux", "setsid") is { } s) return s;
        }
        if (needs.HasFlag(Needs.RiscvBinutils) &&
            MissingTool("binutils-riscv64-unknown-elf", "riscv64-unknown-elf-as", "riscv64-unknown-elf-ld") is { } bu) return bu;
        if (needs.HasFlag(Needs.Dtc) && MissingTool("device-tree-compiler", "dtc", "fdtget") is { } dtc) return dtc;
        if (needs.HasFlag(Needs.Qemu) && MissingTool("qemu-system-misc", "qemu-system-riscv64") is { } q) return q;
        if (needs.HasFlag(Needs.Tap))
        {
            if (!File.Exists("/dev/net/tun")) return "no /dev/net/tun";
            if (LibC.geteuid() != 0) return "making a TAP interface needs root (CAP_NET_ADMIN)";
            if (MissingTool("iproute2", "ip") is { } ip) return ip;
        }
        if (needs.HasFlag(Needs.E2fsprogs) && MissingTool("e2fsprogs", "mkfs.ext4", "debugfs", "e2fsck") is { } e2) return e2;
        return null;
    }

    private static string? MissingFile(string package, params string[] paths)
    {
        foreach (var p in paths)
            if (!File.Exists(p)) return $"needs Debian package {package} ({p} is absent)";
        return null;
    }

    private static string? MissingTool(string package, params string[] tools)
    {
        foreach (var t in tools)
            if (FindTool(t) == null) return $"needs {t} (Debian package {package}) on PATH";
        return null;
    }

    public static string? FindTool(string tool)
    {
        // Debian keeps e2fsprogs in /usr/sbin, which is not on a normal user's PATH.
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).Append("/usr/sbin"))
        {
            string candidate = Path.Combine(dir, tool);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}

/// <summary>A fact skipped, with the reason, when the host lacks something it needs (xunit 2 has no
/// dynamic skip).</summary>
public sealed class HostFactAttribute : FactAttribute
{
    public HostFactAttribute(Needs needs)
    {
        if (HostPrerequisites.MissingReason(needs) is { } reason) Skip = reason;
    }
}

/// <summary>The theory counterpart of <see cref="HostFactAttribute"/>.</summary>
public sealed class HostTheoryAttribute : TheoryAttribute
{
    public HostTheoryAttribute(Needs needs)
    {
        if (HostPrerequisites.MissingReason(needs) is { } reason) Skip = reason;
    }
}
