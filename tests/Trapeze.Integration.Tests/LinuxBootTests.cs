using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Trapeze.Integration.Tests;

/// <summary>Boots of the real Debian kernel take tens of seconds of both host cores: never two at once.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LinuxBootCollection
{
    public const string Name = "Linux boots";
}

/// <summary>
/// Debian's Linux kernel booted to the busybox initramfs and powered off, with Debian's OpenSBI in M-mode and
/// with the built-in SBI (the kernel in S-mode from the start), on one and on four harts: every CPU must come
/// online and the guest must power off cleanly (exit code 0). Two harts are covered by the idle test below;
/// the plain two-hart boots are left to a manual run (<c>TRAPEZE_ALL_BOOTS=1</c>) to keep the suite's boot
/// count small on a two-core machine.
/// </summary>
[Collection(LinuxBootCollection.Name)]
public sealed partial class LinuxBootTests(ITestOutputHelper output)
{
    private static readonly TimeSpan BootTimeout = TimeSpan.FromMinutes(10);

    [HostTheory(Needs.OpenSbi)]
    [InlineData(1)]
    [InlineData(4)]
    public void With_OpenSBI_boots_with_every_cpu_and_powers_off(int harts) => BootAndPowerOff("opensbi", harts);

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void With_the_builtin_SBI_boots_with_every_cpu_and_powers_off(int harts) => BootAndPowerOff("builtin", harts);

    [ManualTheory]
    [InlineData("opensbi", 2)]
    [InlineData("builtin", 2)]
    [InlineData("opensbi", 8)]
    [InlineData("builtin", 8)]
    public void Boots_with_other_hart_counts(string firmware, int harts) => BootAndPowerOff(firmware, harts);

    private void BootAndPowerOff(string firmware, int harts)
    {
        GuestImage.Ensure();
        bool builtin = firmware == "builtin";
        // earlycon=sbi: the kernel's first messages go through the built-in SBI's debug console.
        string append = builtin ? "console=ttyS0 earlycon=sbi poweroff=1" : "console=ttyS0 poweroff=1";
        List<string> args = ["run", "--kernel", GuestImage.Kernel, "--initrd", GuestImage.Initrd, "--append", append,
            "--smp", $"{harts}", "--stats"];
        if (builtin) args.AddRange(["--bios", "builtin"]);
        var sw = Stopwatch.StartNew();
        var r = TrapezeCli.Run(args, BootTimeout);
        output.WriteLine($"{firmware} --smp {harts}: {sw.Elapsed.TotalSeconds:F1} s, exit code {r.ExitCode}");
        output.WriteLine(r.Stderr);

        Assert.True(r.ExitCode == 0, $"the guest did not power off cleanly: {r}");
        var ready = ReadyLine().Match(r.Stdout);
        Assert.True(ready.Success, $"no GUEST-READY line: {r}");
        Assert.Equal(harts, int.Parse(ready.Groups[1].Value));
        Assert.Contains("GUEST-DONE", r.Stdout);
        Assert.Contains("reboot: Power down", r.Stdout);
        Assert.Contains($"smp: Brought up 1 node, {harts} CPU", r.Stdout);
        if (builtin)
        {
            Assert.Contains("SBI specification v2.0 detected", r.Stdout);
            Assert.Contains("SBI implementation ID=0x5452505a", r.Stdout);
            Assert.Contains("SBI HSM extension detected", r.Stdout);
            Assert.Contains("SBI DBCN extension detected", r.Stdout);
            Assert.Contains("earlycon: sbi0", r.Stdout);
            Assert.Matches(@"DBCN\.console_write\s+[1-9]", r.Stderr);
            if (harts > 1) Assert.Matches($@"HSM\.hart_start\s+{harts - 1}\b", r.Stderr);
        }
        else
        {
            Assert.Contains($"Platform HART Count       : {harts}", r.Stdout);
        }
    }

    /// <summary>
    /// With the built-in SBI on two harts, a guest idling at its shell prompt costs the host almost nothing
    /// (WFI sleeps the hart threads until a timer deadline or an interrupt); then it powers off on command.
    /// </summary>
    [Fact]
    public void An_idle_guest_sleeps_and_powers_off_on_command()
    {
        GuestImage.Ensure();
        var psi = TrapezeCli.StartInfo(["run", "--bios", "builtin", "--smp", "2", "--kernel", GuestImage.Kernel,
            "--initrd", GuestImage.Initrd, "--append", "console=ttyS0"]);
        using var p = Process.Start(psi)!;
        var console = new StringBuilder();
        var ready = new ManualResetEventSlim();
        p.OutputDataReceived += (_, e) =>
        {
            if (e.Data == null) return;
            lock (console) console.AppendLine(e.Data);
            if (e.Data.Contains("GUEST-READY")) ready.Set();
        };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        try
        {
            Assert.True(ready.Wait(BootTimeout), $"no GUEST-READY:\n{Snapshot(console)}");
            Thread.Sleep(2000); // let the boot's stragglers settle
            p.Refresh();
            TimeSpan cpu0 = p.TotalProcessorTime;
            var wall = Stopwatch.StartNew();
            Thread.Sleep(5000);
            p.Refresh();
            double share = (p.TotalProcessorTime - cpu0).TotalSeconds / wall.Elapsed.TotalSeconds;
            output.WriteLine($"idle: {100 * share:F1}% of one host core");
            // Two harts spinning would be 200%; sleeping harts cost a few percent (timer ticks, the console).
            Assert.True(share < 0.25, $"an idle guest used {100 * share:F0}% of a host core");

            p.StandardInput.Write("poweroff -f\n");
            p.StandardInput.Flush();
            Assert.True(p.WaitForExit(60_000), $"no power-off:\n{Snapshot(console)}");
            p.WaitForExit();
            Assert.Equal(0, p.ExitCode);
        }
        finally
        {
            if (!p.HasExited) p.Kill(entireProcessTree: true);
        }
    }

    private static string Snapshot(StringBuilder console)
    {
        lock (console) return console.Length <= 4000 ? console.ToString() : "..." + console.ToString()[^4000..];
    }

    [GeneratedRegex(@"GUEST-READY .*cpus=(\d+)")]
    private static partial Regex ReadyLine();
}

/// <summary>A theory run only when <c>TRAPEZE_ALL_BOOTS=1</c> (extra boots of the real kernel, minutes each).</summary>
public sealed class ManualTheoryAttribute : TheoryAttribute
{
    public ManualTheoryAttribute()
    {
        if (Environment.GetEnvironmentVariable("TRAPEZE_ALL_BOOTS") != "1")
            Skip = "extra Linux boots: set TRAPEZE_ALL_BOOTS=1 to run them";
    }
}
