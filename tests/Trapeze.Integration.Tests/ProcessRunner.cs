using System.Diagnostics;

namespace Trapeze.Integration.Tests;

/// <summary>What a finished process left behind.</summary>
public sealed record ProcessResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() =>
        $"exit code {ExitCode}\n--- stdout ---\n{Tail(Stdout)}\n--- stderr ---\n{Tail(Stderr)}";

    private static string Tail(string s) => s.Length <= 4000 ? s : "..." + s[^4000..];
}

/// <summary>Runs a process to completion with stdin at end of file, its output captured.</summary>
public static class ProcessRunner
{
    /// <summary>Runs <paramref name="psi"/> (all streams redirected); a process still running after
    /// <paramref name="timeout"/> is killed and fails the test.</summary>
    public static ProcessResult Run(ProcessStartInfo psi, TimeSpan timeout)
    {
        string commandLine = $"{psi.FileName} {string.Join(' ', psi.ArgumentList)}";
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"cannot start {commandLine}");
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
            Assert.Fail($"{commandLine}: still running after {timeout.TotalSeconds} s\n{new ProcessResult(-1, stdout.Result, stderr.Result)}");
        }
        p.WaitForExit(); // waits for the redirected streams to end too
        return new ProcessResult(p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Runs a host tool found on PATH.</summary>
    public static ProcessResult RunTool(string tool, IEnumerable<string> args, string? workingDirectory = null)
    {
        var psi = new ProcessStartInfo(tool)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        return ProcessRunner.Run(psi, TimeSpan.FromSeconds(60));
    }
}
