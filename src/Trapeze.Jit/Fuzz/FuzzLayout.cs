namespace Trapeze.Jit.Fuzz;

/// <summary>
/// The fuzz machine's memory map (64 KiB of RAM at the usual DRAM base):
/// scratch data (two pages, what loads, stores and atomics aim at), the M-mode trap handler (its page
/// locked read/execute by PMP), the handler's save area and trap log, the program (four pages, locked
/// read/execute by PMP so stores cannot rewrite code), and Sv39 page tables when paging is on.
/// </summary>
public static class FuzzLayout
{
    public const ulong RamBase = 0x8000_0000, RamSize = 0x1_0000;
    public const ulong ScratchBase = RamBase, ScratchSize = 0x2000;
    public const ulong HandlerBase = RamBase + 0x2000;
    public const ulong SaveArea = RamBase + 0x3000;
    public const ulong CodeBase = RamBase + 0x4000, CodeSize = 0x4000;
    public const ulong PageTableBase = RamBase + 0x8000;

    /// <summary>Offsets in the save area: the handler's spilled registers, the trap count, the address
    /// programs resume at after a fetch fault (the final WFI), then the trap log (cause, epc, tval).</summary>
    public const int SaveT1 = 0, SaveT2 = 8, TrapCount = 16, ResumeAddress = 24, TrapLog = 32, TrapLogEntries = 32;
}
