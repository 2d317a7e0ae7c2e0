using Trapeze.Core.Cpu;
using Trapeze.Machine;

namespace Trapeze.Cli;

/// <summary><c>trapeze run</c>: boot a VM with its console on the terminal.</summary>
public static class RunCommand
{
    public const string Help = """
        usage: trapeze run [options]

        With no --kernel and no --bios (or --bios builtin), boots the default guest: Debian's riscv64 Linux
        kernel with a busybox initramfs (built from Debian packages into ~/.cache/trapeze/guest on first use;
        $TRAPEZE_GUEST_DIR overrides the place) and a shell on the console.

          --bios FILE|none|builtin  M-mode firmware (default: Debian's OpenSBI fw_dynamic.bin); builtin: the
                                    monitor's own SBI v2.0, the kernel starts in S-mode at RAM + 2 MiB
          --kernel FILE             kernel or payload: Linux Image, ELF or raw binary (e.g. U-Boot)
          --initrd FILE             initial ramdisk
          --append TEXT             kernel command line
          --mem SIZE                RAM size (default 512M; a bare number is MiB, as QEMU's -m)
          --smp N                   number of harts (default 1)
          --dump-dtb FILE           write the generated device tree and exit
          --stats                   print execution statistics on exit
          --no-jit                  interpret only (no binary translation)
          --jit-threshold N         executions before a block is translated (default 8000; 0 = all, at once)
          --lockstep N              check every Nth translated region run against the interpreter; stop
                                    at the first divergence with a report (exit 3). One hart only
        """ + "\n" + MachineOptions.DeviceHelp + "\n\n" + """
        Console: Ctrl-A x quits, Ctrl-A h helps.

        """;

    public static int Execute(string[] args)
    {
        var a = new ArgReader("run", args, MachineOptions.Valued, [.. MachineOptions.Flags, "stats", "help"]);
        if (a.Flag("help")) { HostStreams.Out.Write(Help); return 0; }
        if (a.Positional.Count > 0) throw new UsageException($"run: unexpected argument '{a.Positional[0]}'");
        var config = MachineOptions.Parse(a);
        if (config.KernelPath == null && (a.Value("bios") == null || config.Firmware == FirmwareKind.Builtin))
        {
            // No kernel and no firmware choice (or the built-in SBI, which needs a kernel): boot the default
            // Linux guest, as the README's first command does.
            DefaultGuest.Ensure();
            config = config with
            {
                KernelPath = DefaultGuest.Kernel,
                InitrdPath = DefaultGuest.Initrd,
                BootArgs = config.BootArgs ?? "console=ttyS0",
            };
        }

        using var stdout = HostStreams.OpenStdout();
        using var console = new ConsoleOutput(stdout);
        using var machine = new VirtMachine(config, console.Write);
        machine.Load();
        if (a.Value("dump-dtb") != null)
        {
            MachineOptions.DumpDtbIfAsked(a, machine);
            return 0;
        }

        using var input = new TerminalInput(
            data => machine.EnqueueConsoleInput(data),
            () => machine.RequestPower(new Devices.Power.PowerRequest(Devices.Power.PowerRequestKind.PowerOff, 0)),
            msg => { console.Flush(); HostStreams.Error.Write(msg); });
        input.Start();
        var started = DateTime.UtcNow;
        int code = machine.Run();
        input.Dispose();
        console.Flush();
        if (a.Flag("stats")) Statistics.Print(machine, DateTime.UtcNow - started);
        return MachineOptions.ReportLockstep(machine, code);
    }
}
