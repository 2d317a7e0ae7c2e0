namespace Trapeze.Vmm;

/// <summary>
/// Where VMs live: <c>$TRAPEZE_HOME</c> (default <c>$XDG_DATA_HOME/trapeze</c>, else
/// <c>~/.local/share/trapeze</c>) holds <c>vms/NAME/</c>, one bundle per VM, and the daemon's socket.
/// </summary>
public sealed class VmHome
{
    public VmHome(string root)
    {
        Root = Path.GetFullPath(root);
    }

    public static VmHome FromEnvironment()
    {
        if (Environment.GetEnvironmentVariable("TRAPEZE_HOME") is { Length: > 0 } home) return new VmHome(home);
        string data = Environment.GetEnvironmentVariable("XDG_DATA_HOME") is { Length: > 0 } x ? x
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".local", "share");
        return new VmHome(Path.Combine(data, "trapeze"));
    }

    public string Root { get; }
    public string VmsDirectory => Path.Combine(Root, "vms");

    /// <summary>The REST API socket of <c>trapezed</c>.</summary>
    public string DaemonSocket => Path.Combine(Root, "trapezed.sock");

    public string BundleDirectory(string name)
    {
        VmNames.Check(name);
        return Path.Combine(VmsDirectory, name);
    }

    public bool Exists(string name) => File.Exists(Path.Combine(BundleDirectory(name), VmBundle.DefinitionFile));

    /// <summary>The bundle of VM <paramref name="name"/>; <see cref="VmErrorKind.NotFound"/> if there is none.</summary>
    public VmBundle Open(string name)
    {
        string dir = BundleDirectory(name);
        if (!File.Exists(Path.Combine(dir, VmBundle.DefinitionFile))) throw VmException.NotFound(name);
        return VmBundle.Open(dir);
    }

    /// <summary>The names of the VMs here, sorted.</summary>
    public IReadOnlyList<string> Names()
    {
        if (!Directory.Exists(VmsDirectory)) return [];
        return Directory.EnumerateDirectories(VmsDirectory)
            .Select(Path.GetFileName)
            // A directory with a lock file but no vm.json yet: a VM process waiting for a live migration.
            .Where(n => n != null && VmNames.IsValid(n) && (File.Exists(Path.Combine(VmsDirectory, n, VmBundle.DefinitionFile))
                || File.Exists(Path.Combine(VmsDirectory, n, "vm.lock"))))
            .Select(n => n!)
            .Order(StringComparer.Ordinal)
            .ToList();
    }
}
