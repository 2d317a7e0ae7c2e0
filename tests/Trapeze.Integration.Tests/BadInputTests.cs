using static Trapeze.Integration.Tests.HostPrerequisites;

namespace Trapeze.Integration.Tests;

/// <summary>
/// Bad command lines and bad images, through the real process: each is refused before anything runs with
/// one line on stderr starting "trapeze: ", exit code 2, nothing on stdout and no stack trace.
/// </summary>
public sealed class BadInputTests
{
    /// <summary>Where to cut a real RISC-V ELF (OpenSBI's fw_jump.elf, 116 KiB): inside the ELF header,
    /// in the program headers, inside segment data, and in the section headers at the end of the file (which
    /// hold the symbols run-elf looks up).</summary>
    public static readonly TheoryData<int> CutLengths = [4, 40, 63, 64, 100, 200, 1000, 60_000, -700, -1];

    [HostTheory(Needs.OpenSbi)]
    [MemberData(nameof(CutLengths))]
    public void TruncatedElfIsRefused(int cut)
    {
        byte[] whole = File.ReadAllBytes(FwJumpElf);
        int length = cut >= 0 ? cut : whole.Length + cut;
        using var dir = new ScratchDirectory();
        string path = dir.File($"cut{length}.elf");
        File.WriteAllBytes(path, whole.AsSpan(0, length).ToArray());

        AssertRefused(TrapezeCli.Run("run-elf", path), "truncated");
        AssertRefused(TrapezeCli.Run("run", "--kernel", path), "truncated");
        AssertRefused(TrapezeCli.Run("run", "--bios", path, "--kernel", FwJump), "truncated");
    }

    [Fact]
    public void NonRiscvElfIsRefused()
    {
        string hostElf = "/bin/true";
        Assert.True(File.Exists(hostElf), $"{hostElf} is missing");
        AssertRefused(TrapezeCli.Run("run-elf", hostElf), "not a RISC-V ELF");
        AssertRefused(TrapezeCli.Run("run", "--kernel", hostElf), "not a RISC-V ELF");
        AssertRefused(TrapezeCli.Run("run", "--bios", hostElf, "--kernel", hostElf), "not a RISC-V ELF");
    }

    [HostFact(Needs.OpenSbi | Needs.UBoot)]
    public void ImageLargerThanRamIsRefused()
    {
        // U-Boot goes at RAM base + 2 MiB: with 1 MiB of RAM it cannot be placed.
        AssertRefused(TrapezeCli.Run("run", "--mem", "1M", "--kernel", UBoot), "does not fit in RAM");
        // The firmware itself does not fit in 64 KiB.
        AssertRefused(TrapezeCli.Run("run", "--mem", "64K", "--bios", FwDynamic), "does not fit in RAM");
    }

    [Theory]
    [InlineData("size must be greater than zero", "run", "--mem", "0", "--kernel", UBoot)]
    [InlineData("'banana' is not a size", "run", "--mem", "banana", "--kernel", UBoot)]
    [InlineData("multiple of 4 KiB", "run", "--mem", "4097K", "--kernel", UBoot)]
    [InlineData("unknown option '--frobnicate'", "run", "--frobnicate", "--kernel", UBoot)]
    [InlineData("unknown option '--frobnicate'", "run-elf", "--frobnicate", "x.elf")]
    [InlineData("unknown option '-x'", "run", "-x")]
    [InlineData("needs a value", "run", "--kernel")]
    [InlineData("unknown command 'frobnicate'", "frobnicate")]
    [InlineData("'0' is not a number in 1..64", "run", "--smp", "0", "--kernel", UBoot)]
    [InlineData("'0' is not a number", "run-elf", "--timeout", "0", "x.elf")]
    [InlineData("--net: 'user' is not a backend", "run", "--net", "user", "--kernel", UBoot)]
    [InlineData("--net: socket needs listen=HOST:PORT", "run", "--net", "socket", "--kernel", UBoot)]
    [InlineData("--net: mac '01:02:03:04:05:06' is a multicast address", "run", "--net", "tap,ifname=t0,mac=01:02:03:04:05:06", "--kernel", UBoot)]
    public void BadCommandLineIsRefused(string expected, params string[] args)
    {
        // These options are refused before their files are read, so they need no images on the host.
        AssertRefused(TrapezeCli.Run(args), expected);
    }

    [Fact]
    public void MissingFilesAreRefused()
    {
        using var dir = new ScratchDirectory();
        string missing = dir.File("no-such-kernel.bin");
        AssertRefused(TrapezeCli.Run("run", "--kernel", missing), "cannot read kernel");
        AssertRefused(TrapezeCli.Run("run", "--bios", missing, "--kernel", missing), "cannot read");
        AssertRefused(TrapezeCli.Run("run-elf", missing), "cannot read");
        AssertRefused(TrapezeCli.Run("run", "--kernel", dir.Path), "cannot read kernel");
    }

    [Fact]
    public void NetListenOnABusyPortIsRefused()
    {
        using var busy = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        busy.Start();
        int port = ((System.Net.IPEndPoint)busy.LocalEndpoint).Port;
        AssertRefused(TrapezeCli.Run("run", "--net", $"socket,listen=127.0.0.1:{port}", "--kernel", UBoot), $"--net socket 127.0.0.1:{port}:");
    }

    [HostFact(Needs.UBoot)]
    public void RunElfWithoutTohostIsRefused()
    {
        // U-Boot's ELF is a fine RISC-V program, but not an HTIF one.
        AssertRefused(TrapezeCli.Run("run-elf", UBootElf), "no 'tohost' symbol");
    }

    internal static void AssertRefused(ProcessResult r, string expected)
    {
        Assert.True(r.ExitCode == 2, $"expected exit code 2, got:\n{r}");
        string[] lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected exactly one line on stderr, got:\n{r}");
        Assert.StartsWith("trapeze: ", lines[0]);
        Assert.Contains(expected, lines[0]);
        Assert.DoesNotContain("Exception", lines[0]);
        Assert.True(r.Stdout.Length == 0, $"nothing should run, yet stdout has output:\n{r}");
    }
}
