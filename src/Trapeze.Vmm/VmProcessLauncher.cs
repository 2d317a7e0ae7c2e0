using System.Diagnostics;
using System.Globalization;
using System.Reflection;

namespace Trapeze.Vmm;

/// <summary>
/// Starts the process that runs one VM: the same program that is running now (the <c>trapeze</c> CLI or
/// the daemon, which is the CLI's <c>daemon</c> verb) with the hidden verb <c>vm-process --bundle DIR</c>.
/// The VM process detaches itself (new session, stdio to the bundle's vm-process.log), so it outlives the
/// command that started it.
/// </summary>
public sealed class VmProcessLauncher
{
    public VmProcessLauncher(string program, IReadOnlyList<string> prefixArguments)
    {
        Program = program;
        PrefixArguments = prefixArguments;
    }

    public string Program { get; }
    public IReadOnlyList<string> PrefixArguments { get; }

    /// <summary>This process's own command: <c>dotnet trapeze.dll</c>, or the app host.</summary>
    public static VmProcessLauncher FromCurrentProcess()
    {
        string host = Environment.ProcessPath ?? throw new InvalidOperationException("cannot tell which program is running");
        if (Path.GetFileNameWithoutExtension(host) == "dotnet")
        {
            string dll = Assembly.GetEntryAssembly()?.Location is { Length: > 0 } l ? l
                : throw new InvalidOperationException("cannot tell which assembly is running");
            return new VmProcessLauncher(host, [dll]);
        }
        return new VmProcessLauncher(host, []);
    }

    /// <summary>Starts the VM process of <paramref name="bundle"/>; with <paramref name="restoreFrom"/>, it
    /// continues the guest saved in that snapshot instead of booting.</summary>
    public Process Launch(VmBundle bundle, string? restoreFrom = null) =>
        Launch(bundle.Directory, bundle.Definition.GcHeapLimitMiB,
            restoreFrom != null ? ["--restore", restoreFrom] : []);

    /// <summary>Starts a VM process in <paramref name="directory"/> (no vm.json yet) that waits on
    /// <paramref name="listen"/> for a live migration. Its heap bound is the default one: the source's vm.json
    /// arrives only with the migration.</summary>
    public Process LaunchIncoming(string directory, string listen, TimeSpan timeout) =>
        Launch(directory, VmDefinition.DefaultGcHeapLimitMiB,
            ["--incoming", listen, "--incoming-timeout", ((long)Math.Ceiling(timeout.TotalSeconds)).ToString(CultureInfo.InvariantCulture)]);

    private Process Launch(string directory, int gcHeapLimitMiB, string[] extra)
    {
        var psi = new ProcessStartInfo(Program)
        {
            UseShellExecute = false,
            // Pipes, closed below at once: the VM process must not hold the caller's terminal or output
            // pipe (a test reading this command's output to its end would wait for the VM to stop).
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = directory,
        };
        foreach (string a in PrefixArguments) psi.ArgumentList.Add(a);
        psi.ArgumentList.Add("vm-process");
        psi.ArgumentList.Add("--bundle");
        psi.ArgumentList.Add(directory);
        foreach (string a in extra) psi.ArgumentList.Add(a);
        // Guest RAM is a native mapping of the configured size; the managed heap is what else can grow, so
        // it gets a hard bound (the runtime fails allocations beyond it with OutOfMemoryException).
        psi.Environment["DOTNET_GCHeapHardLimit"] = "0x" + ((long)gcHeapLimitMiB << 20).ToString("x", CultureInfo.InvariantCulture);
        psi.Environment["DOTNET_gcServer"] = "0";
        var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {Program}");
        p.StandardInput.Close();
        p.StandardOutput.Close();
        p.StandardError.Close();
        return p;
    }
}
