using Trapeze.Core.Cpu;
using Trapeze.Core.Isa;
using Trapeze.Machine;

namespace Trapeze.Cli;

/// <summary><c>trapeze run-elf PROG.elf</c>: the bare-metal test runner (riscv-tests / Spike / TinyEMU
/// convention). The program starts in M-mode at its entry with a0 = hart id, a1 = FDT address, and reports
/// through the <c>tohost</c> symbol: 1 = pass (exit 0), (n &lt;&lt; 1) | 1 = test n failed (exit n, at most 255).</summary>
public static class RunElfCommand
{
        public const string Help = """
        usage: trapeze run-elf [options] PROG.elf

          --mem SIZE        RAM size (default 512M)
          --smp N           number of harts (default 1)
          --timeout SEC     give up after SEC seconds (default 60; exit code 124)
          --trace-traps     print every exception taken, with the faulting instruction
          --stats           print execution statistics on exit
          --no-jit          interpret only (no binary translation)
          --jit-threshold N executions before a block is translated (0 = all, before their first run)
          --lockstep N      check every Nth translated region run against the interpreter; stop at the
                            first divergence with a report (exit 3). One hart only

        Exit code: 0 when the program writes 1 to tohost, n when it writes (n << 1) | 1.
        """;

    public static int Execute(string[] args)
    {
        var a = new ArgReader("run-elf", args, ["mem", "smp", "timeout", "jit-threshold", "lockstep"], [.. MachineOptions.Flags, "help", "trace-traps", "stats"]);
        if (a.Flag("help")) { HostStreams.Out.Write(Help); return 0; }
        if (a.Positional.Count != 1) throw new UsageException("run-elf: expected exactly one ELF file (see 'trapeze run-elf --help')");
        string path = a.Positional[0];
        int timeout = a.Value("timeout") is { } t ? ArgReader.ParseInt("timeout", t, 1, 86400) : 60;

        ulong memory = a.Value("mem") is { } m ? ArgReader.ParseSize("mem", m) : MachineConfig.DefaultMemory;
        int harts = a.Value("smp") is { } s ? ArgReader.ParseInt("smp", s, 1, MachineConfig.MaxHarts) : 1;
        using var stdout = HostStreams.OpenStdout();
        using var console = new ConsoleOutput(stdout);
        var (machine, htif) = BareMetal.Prepare(path, memory, harts, console.Write, c =>
        {
            if (a.Flag("no-jit")) c = c with { Jit = false };
            if (a.Value("jit-threshold") is { } jt) c = c with { JitThreshold = ArgReader.ParseInt("jit-threshold", jt, 0, 1_000_000) };
            if (a.Value("lockstep") is { } ls) c = c with { Lockstep = ArgReader.ParseInt("lockstep", ls, 1, 1_000_000_000) };
            return c;
        });
        using var _ = machine;
        if (a.Flag("trace-traps"))
            foreach (var h in machine.Harts)
            {
                h.OnException = TraceTrap;
                h.OnInterrupt = TraceInterrupt;
            }

        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(timeout));
        var started = DateTime.UtcNow;
        int code = machine.Run(cts.Token);
        console.Flush();
        if (a.Flag("stats")) Statistics.Print(machine, DateTime.UtcNow - started);
        if (machine.Lockstep is { Divergence: not null })
        {
            HostStreams.Error.WriteLine($"trapeze: {Path.GetFileName(path)}: the translator diverged from the interpreter");
            return MachineOptions.ReportLockstep(machine, code);
        }
        MachineOptions.ReportLockstep(machine, code);
        if (cts.IsCancellationRequested && htif.ExitValue == null)
        {
            HostStreams.Error.WriteLine($"trapeze: {Path.GetFileName(path)}: no result after {timeout} s");
            DumpHarts(machine);
            return BareMetal.TimeoutExitCode;
        }
        if (htif.ExitValue is { } v && v != 0)
            HostStreams.Error.WriteLine($"trapeze: {Path.GetFileName(path)}: FAIL test {v}");
        else if (htif.ExitValue == null)
            HostStreams.Error.WriteLine($"trapeze: {Path.GetFileName(path)}: stopped without a result (exit {code})");
        return code;
    }

    private static unsafe void TraceTrap(Hart h, ExceptionCause cause, ulong tval)
    {
        ulong pc = h.State->Pc;
        HostStreams.Error.WriteLine($"hart{h.HartId}: {cause} tval=0x{tval:x} at pc=0x{pc:x} ({h.State->Priv}) {DescribeAt(h, pc)}");
    }

    private static unsafe void TraceInterrupt(Hart h, int irq)
    {
        HartState* s = h.State;
        HostStreams.Error.WriteLine($"hart{h.HartId}: interrupt {irq} at pc=0x{s->Pc:x} ({s->Priv}) mstatus=0x{s->Mstatus:x} mie=0x{s->Mie:x} mip=0x{s->Mip:x}");
    }

    /// <summary>The instruction at a guest virtual address, disassembled, for diagnostics.</summary>
    public static unsafe string DescribeAt(Hart h, ulong pc)
    {
        if (!h.Mmu.Translate(pc, 2, Core.Mmu.AccessType.Fetch, out ulong pa)) return "(not mapped)";
        if (!h.Mmu.ReadPhysical(pa, 2, pc, out ulong low)) return "(not readable)";
        ulong raw = low;
        if (Decoder.LengthOf((ushort)low) == 4 && h.Mmu.ReadPhysical(pa + 2, 2, pc, out ulong high)) raw |= high << 16;
        return Disassembler.Format(Decoder.Decode((uint)raw), pc);
    }

    public static unsafe void DumpHarts(VirtMachine machine)
    {
        foreach (var h in machine.Harts)
        {
            HartState* s = h.State;
            HostStreams.Error.WriteLine($"hart{h.HartId}: pc=0x{s->Pc:x} priv={s->Priv} retired={s->Retired} mcause=0x{s->Mcause:x} mepc=0x{s->Mepc:x} mtval=0x{s->Mtval:x}");
            HostStreams.Error.WriteLine($"  at pc: {DescribeAt(h, s->Pc)}");
            for (int r = 1; r < 32; r += 4)
            {
                var line = "";
                for (int k = r; k < r + 4 && k < 32; k++) line += $" {Disassembler.XReg(k),4}=0x{s->X[k]:x16}";
                HostStreams.Error.WriteLine(" " + line);
            }
        }
    }
}
