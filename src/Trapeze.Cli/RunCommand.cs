using Trapeze.Core.Cpu;
using Trapeze.Machine;

namespace Trapeze.Cli;

/// <summary><c>trapeze run</c>: boot a VM with its console on the terminal.</summary>
public static class RunCommand
{
    public const string Help = """
        usage: trapeze run [options]

          --bios FILE|none|builtin  M-mode firmware (default: Debian's OpenSBI fw_dynamic.bin)
          --kernel FILE             kernel or payload: Linux Image, ELF or raw binary (e.g. U-Boot)
          --initrd FILE             initial ramdisk
          --append TEXT             kernel command line
          --mem SIZE                RAM size (default 512M; a bare number is MiB, as QEMU's -m)
          --smp N                   number of harts (default 1)
          --dump-dtb FILE           write the generated device tree and exit
          --stats                   print execution statistics on exit
          --no-jit                  interpret only (no binary translation)
          --jit-threshold N         executions before a block is translated (default 4000; 0 = all, at once)
          --lockstep N              check every Nth translated region run against the interpreter; stop
                                    at the first divergence with a report (exit 3). One hart only

        Console: Ctrl-A x quits, Ctrl-A h helps.
        """;

    public static int Execute(string[] args)
    {
        var a = new ArgReader("run", args, MachineOptions.Valued, [.. MachineOptions.Flags, "stats", "help"]);
        if (a.Flag("help")) { Console.Out.Write(Help); return 0; }
        if (a.Positional.Count > 0) throw new UsageException($"run: unexpected argument '{a.Positional[0]}'");
        var config = MachineOptions.Parse(a);

        using var stdout = Console.OpenStandardOutput();
        using var console = new ConsoleOutput(stdout);
        using var machine = new VirtMachine(config, console.Write);
        machine.Load();
        if (a.Value("dump-dtb") != null)
        {
            MachineOptions.DumpDtbIfAsked(a, machine);
            return 0;
        }

        using var input = new TerminalInput(
            data => machine.Uart.EnqueueInput(data),
            () => machine.RequestPower(new Devices.Power.PowerRequest(Devices.Power.PowerRequestKind.PowerOff, 0)),
            msg => { console.Flush(); Console.Error.Write(msg); });
        input.Start();
        var started = DateTime.UtcNow;
        int code = machine.Run();
        input.Dispose();
        console.Flush();
        if (a.Flag("stats")) Statistics.Print(machine, DateTime.UtcNow - started);
        return MachineOptions.ReportLockstep(machine, code);
    }
}
