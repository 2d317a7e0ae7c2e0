using System.Diagnostics;

namespace Trapeze.Integration.Tests;

/// <summary>
/// The default Linux guest (Debian's riscv64 kernel + busybox initramfs), built by guests/build-guest.sh into
/// the same cache directory <c>trapeze run</c> uses — <c>$TRAPEZE_GUEST_DIR</c>, else
/// <c>$XDG_CACHE_HOME/trapeze/guest</c>, else <c>~/.cache/trapeze/guest</c> — and reused when present. Built
/// at most once per test run (about a minute the first time, from Debian packages); a failed build fails the
/// tests that need the guest, with the script's output.
/// </summary>
public static class GuestImage
{
    private static readonly Lazy<string?> BuildError = new(Build, LazyThreadSafetyMode.ExecutionAndPublication);

    public static string Directory =>
        Environment.GetEnvironmentVariable("TRAPEZE_GUEST_DIR") is { Length: > 0 } d ? d
        : Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } x ? x
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "trapeze", "guest");

    public static string Kernel => Path.Combine(Directory, "Image");
    public static string Initrd => Path.Combine(Directory, "initramfs.cpio.gz");

    /// <summary>Makes sure the guest is there, building it if needed; fails the calling test otherwise.</summary>
    public static void Ensure()
    {
        string? error = BuildError.Value;
        Assert.True(error == null, error);
    }

    private static string? Build()
    {
        if (File.Exists(Kernel) && File.Exists(Initrd)) return null;
        var psi = new ProcessStartInfo("bash")
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.ArgumentList.Add(Path.Combine(RepoPaths.Root, "guests", "build-guest.sh"));
        psi.ArgumentList.Add(Directory);
        var r = ProcessRunner.Run(psi, TimeSpan.FromMinutes(20));
        if (r.ExitCode != 0 || !File.Exists(Kernel) || !File.Exists(Initrd))
            return $"guests/build-guest.sh {Directory} failed; the Linux guest is needed (it downloads Debian packages):\n{r}";
        return null;
    }
}
