namespace Trapeze.Core.Cpu;

/// <summary>Synchronous exception codes (Priv. spec 3.1.15, Table 3.6).</summary>
public enum ExceptionCause : byte
{
    InstructionMisaligned = 0,
    InstructionAccessFault = 1,
    IllegalInstruction = 2,
    Breakpoint = 3,
    LoadMisaligned = 4,
    LoadAccessFault = 5,
    StoreMisaligned = 6,
    StoreAccessFault = 7,
    EcallFromU = 8,
    EcallFromS = 9,
    EcallFromM = 11,
    InstructionPageFault = 12,
    LoadPageFault = 13,
    StorePageFault = 15,
}

/// <summary>Interrupt numbers: bit positions in mip/mie (Priv. spec 3.1.9).</summary>
public static class Interrupt
{
    public const int SupervisorSoftware = 1, MachineSoftware = 3, SupervisorTimer = 5, MachineTimer = 7,
        SupervisorExternal = 9, MachineExternal = 11;

    public const ulong Ssip = 1UL << SupervisorSoftware, Msip = 1UL << MachineSoftware, Stip = 1UL << SupervisorTimer,
        Mtip = 1UL << MachineTimer, Seip = 1UL << SupervisorExternal, Meip = 1UL << MachineExternal;

    /// <summary>All interrupts this hart implements.</summary>
    public const ulong All = Ssip | Msip | Stip | Mtip | Seip | Meip;

    /// <summary>Interrupts that M-mode may delegate to S-mode (mideleg's writable bits).</summary>
    public const ulong Delegable = Ssip | Stip | Seip;

    /// <summary>Priority order for simultaneous interrupts (Priv. spec 3.1.9): MEI, MSI, MTI, SEI, SSI, STI.</summary>
    public static ReadOnlySpan<byte> PriorityOrder => [MachineExternal, MachineSoftware, MachineTimer,
        SupervisorExternal, SupervisorSoftware, SupervisorTimer];
}
