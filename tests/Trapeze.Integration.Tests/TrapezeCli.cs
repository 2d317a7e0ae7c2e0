using System.Diagnostics;
using System.Reflection;

namespace Trapeze.Integration.Tests;

/// <summary>
/// Runs the <c>trapeze</c> command built together with this test assembly (its path is recorded at build
/// time by the project file), as a real process: the same entry point, exit codes and streams a user gets.
/// </summary>
public static class TrapezeCli
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    /// <summary>The trapeze.dll of this build's configuration.</summary>
    public static string DllPath { get; } = FindDll();

    /// <summary>The dotnet host running these tests (so the CLI runs on the same runtime).</summary>
    public static string DotnetHost { get; } = FindDotnetHost();

    private static string FindDll()
    {
        string? path = typeof(TrapezeCli).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "TrapezeCliDll")?.Value;
        if (string.IsNullOrEmpty(path))
            throw new InvalidOperationException("the test assembly does not record where trapeze.dll was built (see the .csproj)");
        if (!File.Exists(path))
            throw new FileNotFoundException($"the trapeze CLI built with these tests is missing: {path}", path);
        return path;
    }

    private static string FindDotnetHost()
    {
        // Set by the dotnet CLI for the processes it starts (dotnet test, vstest).
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)) return host;
        if (Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        return HostPrerequisites.FindTool("dotnet") ?? "dotnet";
    }

    /// <summary>A start description for <c>dotnet trapeze.dll ARGS</c>, every stream redirected.</summary>
    public static ProcessStartInfo StartInfo(IEnumerable<string> args, string? workingDirectory = null)
    {
        var psi = new ProcessStartInfo(DotnetHost)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        psi.ArgumentList.Add(DllPath);
        foreach (var a in args) psi.ArgumentList.Add(a);
        return psi;
    }

    /// <summary>Runs trapeze with stdin at end of file and returns its exit code and output. A process still
    /// running after <paramref name="timeout"/> (default 60 s) is killed and fails the test.</summary>
    public static ProcessResult Run(IEnumerable<string> args, TimeSpan? timeout = null, string? workingDirectory = null) =>
        ProcessRunner.Run(StartInfo(args, workingDirectory), timeout ?? DefaultTimeout);

    public static ProcessResult Run(params string[] args) => Run((IEnumerable<string>)args);
}
