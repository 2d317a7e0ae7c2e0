namespace Trapeze.Integration.Tests;

/// <summary>
/// <c>trapeze run-elf</c> on bare-metal programs assembled here with the GNU RISC-V toolchain: the HTIF
/// <c>tohost</c> protocol of riscv-tests (pass, fail with a test number, console output) and the time-out.
/// </summary>
public sealed class RunElfTests : IClassFixture<RunElfTests.Programs>
{
    private readonly Programs _programs;

    public RunElfTests(Programs programs) => _programs = programs;

    [HostFact(Needs.RiscvBinutils)]
    public void PassExitsZero()
    {
        var r = TrapezeCli.Run("run-elf", _programs.Build("pass", Report("1")));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.True(r.Stdout.Length == 0 && r.Stderr.Length == 0, r.ToString());
    }

    [HostFact(Needs.RiscvBinutils)]
    public void FailReportsTestNumber()
    {
        var r = TrapezeCli.Run("run-elf", _programs.Build("fail7", Report("(7 << 1) | 1")));
        Assert.True(r.ExitCode == 7, r.ToString());
        Assert.Contains("FAIL test 7", r.Stderr);
    }

    [HostFact(Needs.RiscvBinutils)]
    public void ConsoleOutputThroughTohost()
    {
        var r = TrapezeCli.Run("run-elf", _programs.Build("hello", HelloSource()));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("hello\n", r.Stdout);
    }

    [HostFact(Needs.RiscvBinutils)]
    public void StdoutAndStderrIntoOneFileKeepBoth()
    {
        // `trapeze ... > log 2>&1`: both descriptors share one open file (and its offset); neither stream
        // may overwrite what the other wrote.
        string elf = _programs.Build("hello-fail", HelloSource("(5 << 1) | 1"));
        using var dir = new ScratchDirectory();
        string log = dir.File("log");
        var psi = new System.Diagnostics.ProcessStartInfo("/bin/sh")
        {
            UseShellExecute = false, RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("exec \"$0\" \"$1\" run-elf \"$2\" > \"$3\" 2>&1");
        foreach (string a in new[] { TrapezeCli.DotnetHost, TrapezeCli.DllPath, elf, log }) psi.ArgumentList.Add(a);
        var r = ProcessRunner.Run(psi, TrapezeCli.DefaultTimeout);
        Assert.True(r.ExitCode == 5, r.ToString());
        Assert.Equal("hello\ntrapeze: hello-fail.elf: FAIL test 5\n", File.ReadAllText(log));
    }

    private static string HelloSource(string result = "1")
    {
        // Each character is a device 1 (console), command 1 (write) request; the host acknowledges it by
        // clearing tohost, which the program waits for before the next one.
        const string hello = """
                la      a0, message
                la      t0, tohost
                li      t2, (1 << 56) | (1 << 48)
            next:
                lbu     t1, 0(a0)
                beqz    t1, done
                or      t3, t2, t1
                sd      t3, 0(t0)
            wait:
                ld      t3, 0(t0)
                bnez    t3, wait
                addi    a0, a0, 1
                j       next
            done:
            """;
        return hello + Report(result) + """

                .section .rodata
            message:
                .asciz  "hello\n"
            """;
    }

    /// <summary>Every region run checked against the interpreter: the console still prints each character
    /// once (HTIF acts on one run of each region only), and the summary says what was checked.</summary>
    [HostFact(Needs.RiscvBinutils)]
    public void LockstepRunPassesAndPrintsOnce()
    {
        var r = TrapezeCli.Run("run-elf", "--lockstep", "1", "--jit-threshold", "0", _programs.Build("hello", HelloSource()));
        Assert.True(r.ExitCode == 0, r.ToString());
        Assert.Equal("hello\n", r.Stdout);
        Assert.Matches(@"lockstep: [1-9][0-9]* of [0-9]+ translated region runs checked .*no divergence", r.Stderr);
    }

    [HostFact(Needs.RiscvBinutils)]
    public void LockstepRefusesSeveralHarts()
    {
        string pass = _programs.Build("pass", Report("1"));
        BadInputTests.AssertRefused(TrapezeCli.Run("run-elf", "--lockstep", "1", "--smp", "2", pass), "lockstep checking runs one hart");
    }

    [HostFact(Needs.RiscvBinutils)]
    public void ProgramThatNeverReportsTimesOut()
    {
        var r = TrapezeCli.Run(["run-elf", "--timeout", "2", _programs.Build("spin", "1:  j 1b\n")], TimeSpan.FromSeconds(30));
        Assert.True(r.ExitCode == 124, r.ToString());
        Assert.Contains("no result after 2 s", r.Stderr);
    }

    [HostFact(Needs.RiscvBinutils)]
    public void RefusesProgramWithoutTohostAndBadMemory()
    {
        string noTohost = _programs.Build("no-tohost", "1:  j 1b\n", withTohost: false);
        BadInputTests.AssertRefused(TrapezeCli.Run("run-elf", noTohost), "no 'tohost' symbol");
        string pass = _programs.Build("pass", Report("1"));
        BadInputTests.AssertRefused(TrapezeCli.Run("run-elf", "--mem", "0", pass), "size must be greater than zero");
        BadInputTests.AssertRefused(TrapezeCli.Run("run-elf", "--mem", "banana", pass), "'banana' is not a size");
    }

    /// <summary>Writes <paramref name="value"/> to tohost and waits for the end.</summary>
    private static string Report(string value) => $"""

            la      t0, tohost
            li      t1, {value}
            sd      t1, 0(t0)
        1:  j       1b

        """;

    /// <summary>Assembles and links programs (once per name) in a directory of their own.</summary>
    public sealed class Programs : IDisposable
    {
        private const string LinkerScript = """
            OUTPUT_ARCH("riscv")
            ENTRY(_start)
            SECTIONS
            {
              . = 0x80000000;
              .text : { *(.text.init) *(.text .text.*) }
              .rodata : { *(.rodata .rodata.*) }
              /* The HTIF mailbox in a page of its own, as riscv-tests place it. */
              . = ALIGN(0x1000);
              .tohost : { *(.tohost) }
            }
            """;

        private const string Mailbox = """

                .section .tohost, "aw", @progbits
                .balign 8
                .globl  tohost
            tohost: .dword 0
                .globl  fromhost
            fromhost: .dword 0
            """;

        private readonly ScratchDirectory _dir = new();
        private readonly Dictionary<string, string> _built = new();
        private readonly object _lock = new();

        /// <summary>The ELF for <paramref name="body"/>, code that starts at <c>_start</c> in M-mode.</summary>
        public string Build(string name, string body, bool withTohost = true)
        {
            lock (_lock)
            {
                if (_built.TryGetValue(name, out var done)) return done;
                string script = _dir.File("link.ld");
                if (!File.Exists(script)) File.WriteAllText(script, LinkerScript);
                string source = _dir.File(name + ".S"), obj = _dir.File(name + ".o"), elf = _dir.File(name + ".elf");
                File.WriteAllText(source,
                    "    .section .text.init, \"ax\", @progbits\n    .globl _start\n_start:\n" + body + "\n" + (withTohost ? Mailbox : "") + "\n");
                var a = ProcessRunner.RunTool("riscv64-unknown-elf-as", ["-march=rv64gc", "-mabi=lp64d", "-o", obj, source]);
                Assert.True(a.ExitCode == 0, $"cannot assemble {name}:\n{a}\n{File.ReadAllText(source)}");
                var l = ProcessRunner.RunTool("riscv64-unknown-elf-ld", ["-T", script, "--no-warn-rwx-segments", "-o", elf, obj]);
                Assert.True(l.ExitCode == 0, $"cannot link {name}:\n{l}");
                _built[name] = elf;
                return elf;
            }
        }

        public void Dispose() => _dir.Dispose();
    }
}
