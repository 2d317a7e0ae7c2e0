using Trapeze.Core.Cpu;
using Trapeze.Machine.Boot;

namespace Trapeze.Machine;

/// <summary>The outcome of a bare-metal HTIF program: pass, failed test number, or no result in time.</summary>
public sealed record BareMetalResult(int ExitCode, ulong? TestNumber, bool TimedOut, string Console, TimeSpan Elapsed)
{
    public bool Passed => !TimedOut && TestNumber == 0;
}

/// <summary>
/// Runs a bare-metal RISC-V ELF that reports through HTIF <c>tohost</c> (riscv-tests, Spike, TinyEMU
/// convention) on the virt board with no firmware: the program starts in M-mode at its entry point.
/// Used by <c>trapeze run-elf</c> and by the ISA test suite.
/// </summary>
public static class BareMetal
{
    public const int TimeoutExitCode = 124;

    /// <summary>Checks the ELF and finds its HTIF symbols. Throws <see cref="BootImageException"/> or
    /// <see cref="MachineConfigException"/> for files that cannot be run.</summary>
    public static (ulong ToHost, ulong? FromHost) FindHtif(string path, byte[] bytes)
    {
        var elf = ElfImage.Parse(Path.GetFileName(path), bytes);
        if (!elf.TryGetSymbol("tohost", out ulong tohost))
            throw new MachineConfigException($"{Path.GetFileName(path)}: no 'tohost' symbol (run-elf needs an HTIF program)");
        return (tohost, elf.TryGetSymbol("fromhost", out ulong f) ? f : null);
    }

    /// <summary>Creates and loads a machine for the program, with HTIF attached.</summary>
    public static (VirtMachine Machine, Htif Htif) Prepare(string path, ulong memory, int harts, Action<byte> console,
        Func<MachineConfig, MachineConfig>? adjust = null)
    {
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MachineConfigException($"cannot read '{path}': {e.Message}");
        }
        var (tohost, fromhost) = FindHtif(path, bytes);
        var config = new MachineConfig
        {
            Firmware = FirmwareKind.None,
            KernelPath = path,
            MemorySize = memory,
            Harts = harts,
        };
        var machine = new VirtMachine(adjust != null ? adjust(config) : config, console);
        try
        {
            machine.Load();
            return (machine, new Htif(machine, tohost, fromhost, console));
        }
        catch
        {
            machine.Dispose();
            throw;
        }
    }

    /// <summary>Runs the program to its HTIF result or the time-out, collecting console output.</summary>
    public static BareMetalResult Run(string path, TimeSpan timeout, ulong memory = MachineConfig.DefaultMemory, int harts = 1,
        Action<Hart>? configureHart = null, Func<MachineConfig, MachineConfig>? adjust = null)
    {
        var output = new System.Text.StringBuilder();
        void Console(byte b) { lock (output) output.Append((char)b); }
        var (machine, htif) = Prepare(path, memory, harts, Console, adjust);
        using (machine)
        {
            if (configureHart != null) foreach (var h in machine.Harts) configureHart(h);
            using var cts = new CancellationTokenSource(timeout);
            var started = DateTime.UtcNow;
            int code = machine.Run(cts.Token);
            var elapsed = DateTime.UtcNow - started;
            bool timedOut = htif.ExitValue == null && cts.IsCancellationRequested;
            lock (output)
                return new BareMetalResult(timedOut ? TimeoutExitCode : code, htif.ExitValue, timedOut, output.ToString(), elapsed);
        }
    }
}
