namespace Trapeze.Machine;

/// <summary>What runs in M-mode before the kernel.</summary>
public enum FirmwareKind
{
    /// <summary>No firmware: the ROM jumps straight to the kernel (or bare-metal program) in M-mode.</summary>
    None,
    /// <summary>A firmware file (OpenSBI fw_dynamic / fw_jump, as ELF or raw binary) at the base of DRAM.</summary>
    File,
    /// <summary>The monitor's own SBI: the kernel starts in S-mode and its ECALLs are hypercalls.</summary>
    Builtin,
}

/// <summary>The configuration of one virt machine, as the CLI, the API and bundles describe it.</summary>
public sealed record MachineConfig
{
    public const ulong DefaultMemory = 512UL << 20;
    public const int MaxHarts = 64;

    public ulong MemorySize { get; init; } = DefaultMemory;
    public int Harts { get; init; } = 1;
    public FirmwareKind Firmware { get; init; } = FirmwareKind.File;
    public string? FirmwarePath { get; init; }
    public string? KernelPath { get; init; }
    public string? InitrdPath { get; init; }
    public string? BootArgs { get; init; }

    /// <summary>Translate hot code (tier 1); false interprets only (--no-jit).</summary>
    public bool Jit { get; init; } = true;

    /// <summary>Executions before a block is translated.</summary>
    public int JitThreshold { get; init; } = Trapeze.Jit.Translator.DefaultThreshold;

    /// <summary>Translate on the hart's own thread at once (deterministic: tests and lockstep runs).</summary>
    public bool JitSynchronous { get; init; }

    /// <summary>Check every Nth translated region run against the interpreter (0: off). Needs one hart and
    /// the translator; translation is then synchronous.</summary>
    public int Lockstep { get; init; }

    /// <summary>Debian's OpenSBI, used when no firmware is named (as QEMU uses its bundled OpenSBI).</summary>
    public const string DebianOpenSbi = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin";
}
