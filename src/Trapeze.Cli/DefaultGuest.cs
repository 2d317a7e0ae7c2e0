using System.Diagnostics;

namespace Trapeze.Cli;

/// <summary>
/// The default guest of <c>trapeze run</c> with no kernel: Debian's riscv64 kernel and a busybox
/// initramfs, built from Debian packages by guests/build-guest.sh into a cache directory on first use.
/// </summary>
public static class DefaultGuest
{
    public static string CacheDirectory =>
        Environment.GetEnvironmentVariable("TRAPEZE_GUEST_DIR") is { Length: > 0 } d ? d
        : Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } x ? x
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "trapeze", "guest");

    public static string Kernel => Path.Combine(CacheDirectory, "Image");
    public static string Initrd => Path.Combine(CacheDirectory, "initramfs.cpio.gz");

    /// <summary>Builds the guest when it is not in the cache yet.</summary>
    public static void Ensure()
    {
        if (File.Exists(Kernel) && File.Exists(Initrd)) return;
        string script = FindScript() ?? throw new UsageException(
            $"no --kernel given and the default guest is not built: run guests/build-guest.sh {CacheDirectory}");
        HostStreams.Error.WriteLine($"trapeze: building the default guest (Debian kernel + busybox) into {CacheDirectory} ...");
        var psi = new ProcessStartInfo("bash") { UseShellExecute = false, RedirectStandardOutput = true };
        psi.ArgumentList.Add(script);
        psi.ArgumentList.Add(CacheDirectory);
        using var p = Process.Start(psi) ?? throw new UsageException("cannot start bash to build the default guest");
        // The script's summary goes to stderr too: stdout belongs to the guest console.
        p.OutputDataReceived += (_, e) => { if (e.Data != null) HostStreams.Error.WriteLine(e.Data); };
        p.BeginOutputReadLine();
        p.WaitForExit();
        if (p.ExitCode != 0 || !File.Exists(Kernel) || !File.Exists(Initrd))
            throw new UsageException($"building the default guest failed (exit {p.ExitCode}); see the messages above");
    }

    private static string? FindScript()
    {
        var roots = new List<string>();
        if (Environment.GetEnvironmentVariable("TRAPEZE_REPO") is { Length: > 0 } r) roots.Add(r);
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        for (int i = 0; i < 6 && dir != null; i++, dir = dir.Parent) roots.Add(dir.FullName);
        foreach (var root in roots)
        {
            string s = Path.Combine(root, "guests", "build-guest.sh");
            if (File.Exists(s)) return s;
        }
        return null;
    }
}
