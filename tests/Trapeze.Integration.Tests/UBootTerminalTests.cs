using System.Globalization;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace Trapeze.Integration.Tests;

/// <summary>
/// The acceptance test of the first milestone: Debian's OpenSBI and U-Boot booted by <c>trapeze run</c> on a
/// pseudo-terminal, driven by keyboard as a person would, through a reset, and quit with Ctrl-A x.
/// </summary>
public sealed class UBootTerminalTests(ITestOutputHelper output)
{
    private const string Prompt = "=> ";
    private const ulong DramBase = 0x8000_0000;
    private const ulong UBootTextBase = 0x8020_0000; // where the board puts the payload; U-Boot's CONFIG_TEXT_BASE

    [HostTheory(Needs.OpenSbi | Needs.UBoot | Needs.Pty)]
    [InlineData(null, 1, 256)] // the default firmware: Debian's fw_dynamic.bin
    [InlineData("fw_jump.bin", 1, 128)]
    [InlineData("fw_dynamic.bin", 2, 512)]
    public void UBootPromptVersionBdinfoResetAndQuit(string? firmware, int harts, int memMiB)
    {
        ulong memBytes = (ulong)memMiB << 20;
        List<string> args = ["run", "--kernel", HostPrerequisites.UBoot, "--mem", $"{memMiB}M", "--smp", $"{harts}"];
        if (firmware != null) args.AddRange(["--bios", Path.Combine(HostPrerequisites.OpenSbiDir, firmware)]);
        using var t = new TerminalSession(args);

        BootToPrompt(t, harts, memMiB);

        // trapeze put the terminal in raw mode: keys go to the guest at once, unechoed and uninterpreted...
        var running = t.ReadModes();
        Assert.True(running.PassesKeysThrough, $"terminal not in raw mode while the guest runs: {running}");
        // ...so Ctrl-C reaches U-Boot (which abandons the line) instead of killing the VM.
        t.Type("\x03");
        t.WaitFor("<INTERRUPT>");
        t.WaitFor(Prompt);
        Assert.False(t.HasExited, "Ctrl-C ended trapeze instead of reaching the guest");

        t.Type("version\r");
        string version = t.WaitFor(Prompt);
        Assert.Matches(@"U-Boot 20\d\d\.\d\d", version);
        Assert.Contains("gcc", version);   // the toolchain lines: compiler...
        Assert.Contains("GNU ld", version); // ...and linker

        t.Type("bdinfo\r");
        string bdinfo = t.WaitFor(Prompt);
        Assert.Equal(DramBase, Field(bdinfo, "-> start"));
        Assert.Equal(memBytes, Field(bdinfo, "-> size"));
        Assert.Equal(0UL, Field(bdinfo, "boot_params"));
        ulong dramEnd = DramBase + memBytes;
        // U-Boot relocates itself to the top of RAM and says by how much it moved from its link address.
        ulong relocaddr = Field(bdinfo, "relocaddr");
        Assert.InRange(relocaddr, dramEnd - (16UL << 20), dramEnd - 1);
        Assert.Equal(relocaddr - UBootTextBase, Field(bdinfo, "reloc off"));
        // The device tree the board handed over, copied by U-Boot below itself, inside RAM.
        ulong fdt = Field(bdinfo, "fdt_blob");
        Assert.InRange(fdt, DramBase, relocaddr - 1);
        Assert.Equal(fdt, Field(bdinfo, "new_fdt"));
        Assert.Contains($"[0x{DramBase:x}-0x{dramEnd - 1:x}], 0x{memBytes:x8} bytes", bdinfo);

        // A real machine reset: the firmware starts again from the reset vector, then U-Boot.
        t.Type("reset\r");
        t.WaitFor("resetting");
        BootToPrompt(t, harts, memMiB);

        t.Type("\x01x");
        int exit = t.WaitForExit();
        Assert.True(exit == 0, $"Ctrl-A x gave exit code {exit}\n{t.Stderr}");
        string stderr = t.Stderr;
        Assert.Contains("terminated (Ctrl-A x)", stderr);
        Assert.DoesNotContain("Exception", stderr);
        Assert.DoesNotMatch(@"(?m)^\s+at ", stderr);
        // The terminal is given back as it was.
        Assert.Equal(t.InitialModes, t.ReadModes());
        output.WriteLine(t.Screen);
    }

    /// <summary>The boot with every translated region run checked against the interpreter (lockstep), blocks
    /// translated after 20 runs: OpenSBI and U-Boot reach the prompt and run a command with no divergence.</summary>
    [HostFact(Needs.OpenSbi | Needs.UBoot | Needs.Pty)]
    public void UBootBootsInLockstep()
    {
        using var t = new TerminalSession(["run", "--kernel", HostPrerequisites.UBoot, "--mem", "256M", "--lockstep", "1", "--jit-threshold", "20"]);
        t.WaitFor("Hit any key to stop autoboot", TimeSpan.FromSeconds(240));
        t.Type(" ");
        t.WaitFor(Prompt, TimeSpan.FromSeconds(120));
        t.Type("version\r");
        Assert.Matches(@"U-Boot 20\d\d\.\d\d", t.WaitFor(Prompt, TimeSpan.FromSeconds(120)));
        t.Type("\x01x");
        int exit = t.WaitForExit();
        Assert.True(exit == 0, $"exit code {exit}\n{t.Stderr}");
        Assert.Matches(@"lockstep: [1-9][0-9]* of [0-9]+ translated region runs checked .*no divergence", t.Stderr);
        output.WriteLine(t.Stderr);
    }

    private static void BootToPrompt(TerminalSession t, int harts, int memMiB)
    {
        t.WaitFor("OpenSBI v");
        t.WaitFor($"Platform HART Count       : {harts}");
        t.WaitFor("Domain0 Next Address      : 0x0000000080200000");
        t.WaitFor("U-Boot 20");
        t.WaitFor($"DRAM:  {memMiB} MiB");
        t.WaitFor("Hit any key to stop autoboot");
        // Any key stops the countdown. Should it arrive late, U-Boot tries to boot, fails (no devices) and
        // prompts anyway, with the space typed on its command line, where it does no harm.
        t.Type(" ");
        t.WaitFor(Prompt);
    }

    /// <summary>A "name = 0x..." line of bdinfo.</summary>
    private static ulong Field(string bdinfo, string name)
    {
        var m = Regex.Match(bdinfo, @"(?m)^" + Regex.Escape(name) + @"\s*=\s*0x([0-9a-fA-F]+)");
        Assert.True(m.Success, $"bdinfo has no '{name}' line:\n{bdinfo}");
        return ulong.Parse(m.Groups[1].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
    }
}
