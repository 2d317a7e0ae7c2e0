using Trapeze.Devices.Storage;
using Trapeze.Machine;
using Trapeze.Machine.Boot;

namespace Trapeze.Cli;

public static class Program
{
    public const string Usage = """
        usage: trapeze <command> [options]

        commands:
          run        boot a virtual machine on the terminal (QEMU virt-compatible board)
          run-elf    run a bare-metal RISC-V ELF that reports through HTIF tohost (riscv-tests convention)
          disasm     disassemble a RISC-V ELF or raw binary
          disk       create, describe, grow and convert disk images (raw, qcow2)
          fuzz-jit   differential fuzzing of the binary translator against the interpreter (diagnostic)
          create, start, stop, kill, pause, resume, snapshot, resize, list, console, rm,
                     export, import, migrate, receive
                     VMs kept as directories under $TRAPEZE_HOME, each run in a process of its own
                     (see 'trapeze help create')
          daemon     serve the REST API on $TRAPEZE_HOME/trapezed.sock
          help       show this text, or 'trapeze help COMMAND'

        Run 'trapeze COMMAND --help' for a command's options.
        """;

    public static int Main(string[] args)
    {
        try
        {
            if (args.Length == 0 || args[0] is "help" or "--help" or "-h")
            {
                if (args.Length > 1) return Main([args[1], "--help"]);
                HostStreams.Out.Write(Usage);
                return args.Length == 0 ? 2 : 0;
            }
            string[] rest = args[1..];
            return args[0] switch
            {
                "run" => RunCommand.Execute(rest),
                "run-elf" => RunElfCommand.Execute(rest),
                "disasm" => DisasmCommand.Execute(rest),
                "disk" => DiskCommand.Execute(rest),
                "fuzz-jit" => FuzzJitCommand.Execute(rest),
                "daemon" => VmCommands.Daemon(rest),
                "vm-process" => VmCommands.VmProcess(rest),
                var verb when VmCommands.Verbs.Contains(verb) => VmCommands.Execute(verb, rest),
                "--version" or "version" => Version(),
                _ => throw new UsageException($"unknown command '{args[0]}' (commands: run, run-elf, disasm, disk, create, start, stop, list, console, daemon, help)"),
            };
        }
        catch (UsageException e) { return Fail(e.Message); }
        catch (MachineConfigException e) { return Fail(e.Message); }
        catch (BootImageException e) { return Fail(e.Message); }
        catch (DiskImageException e) { return Fail(e.Message); }
        catch (Vmm.VmException e) { return Fail(e.Message); }
        catch (MachineFailureException e)
        {
            HostStreams.Error.WriteLine($"trapeze: {e.Message}: {e.InnerException}");
            return 70;
        }
    }

    private static int Version()
    {
        HostStreams.Out.WriteLine($"trapeze {typeof(Program).Assembly.GetName().Version} (RV64GC, virt board)");
        return 0;
    }

    /// <summary>A user error: one line on stderr, exit code 2.</summary>
    public static int Fail(string message)
    {
        HostStreams.Error.WriteLine($"trapeze: {message}");
        return 2;
    }
}
