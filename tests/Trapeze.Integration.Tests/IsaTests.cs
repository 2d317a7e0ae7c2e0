using System.Diagnostics;
using Trapeze.Machine;

namespace Trapeze.Integration.Tests;

/// <summary>Assembles the project's ISA test programs (tests/isa) once per run with Debian's cross
/// tool-chain.</summary>
public sealed class IsaBuild
{
    public string OutDir { get; } = Path.Combine(Path.GetTempPath(), $"trapeze-isa-{Environment.ProcessId}");
    public string? Error { get; }

    public IsaBuild()
    {
        if (!RepoPaths.OnPath("riscv64-unknown-elf-gcc"))
        {
            Error = "riscv64-unknown-elf-gcc not found (Debian package gcc-riscv64-unknown-elf)";
            return;
        }
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(RepoPaths.IsaSources, "build.sh"));
        psi.ArgumentList.Add(OutDir);
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) Error = $"tests/isa/build.sh failed ({p.ExitCode}):\n{output}";
    }
}

/// <summary>
/// Every ISA test program runs on the interpreter through the bare-metal HTIF runner and must report
/// pass. Each program checks results (not just the absence of traps), numbering its checks so a failure
/// names the exact one.
/// </summary>
public sealed class IsaTests(IsaBuild build) : IClassFixture<IsaBuild>
{
    public static TheoryData<string> Programs()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.GetFiles(RepoPaths.IsaSources, "*.S").OrderBy(f => f, StringComparer.Ordinal))
        {
            string name = Path.GetFileNameWithoutExtension(f);
            if (name != "crt") data.Add(name);
        }
        return data;
    }

    /// <summary>On the interpreter alone (tier 0, the reference).</summary>
    [Theory]
    [MemberData(nameof(Programs))]
    public void PassesInterpreted(string name) => Check(name, c => c with { Jit = false });

    /// <summary>With every block translated before it first runs (tier 1 for all code, compiled on the
    /// hart's thread so the run is deterministic).</summary>
    [Theory]
    [MemberData(nameof(Programs))]
    public void PassesTranslated(string name) => Check(name, c => c with { Jit = true, JitThreshold = 0, JitSynchronous = true });

    /// <summary>All code translated and every translated region run checked against the interpreter
    /// (lockstep: a divergence stops the machine, so the program cannot pass).</summary>
    [Theory]
    [MemberData(nameof(Programs))]
    public void PassesInLockstep(string name) => Check(name, c => c with { Jit = true, JitThreshold = 0, Lockstep = 1 });

    private void Check(string name, Func<MachineConfig, MachineConfig> mode)
    {
        // The tool-chain is a prerequisite of the test suite (.ci/run installs it): its absence is a failure.
        Assert.True(build.Error == null, build.Error);
        string elf = Path.Combine(build.OutDir, name + ".elf");
        Assert.True(File.Exists(elf), $"{name}.elf was not built");
        var r = BareMetal.Run(elf, TimeSpan.FromSeconds(60), adjust: mode);
        Assert.False(r.TimedOut, $"{name}: no result within 60 s; console:\n{r.Console}");
        Assert.True(r.Passed, $"{name}: FAIL test {r.TestNumber}; console:\n{r.Console}");
    }
}
