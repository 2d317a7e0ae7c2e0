namespace Trapeze.Core.Cpu;

/// <summary>
/// The interrupt inputs of one hart, as wired by the board: the CLINT drives the software interrupt and
/// the machine timer compare value, the PLIC drives the external interrupt lines. Callable from any thread.
/// </summary>
public interface IHartPins
{
    int HartId { get; }

    /// <summary>MSIP (Priv. spec 3.1.9): the CLINT's msip register for this hart.</summary>
    void SetMachineSoftwareInterrupt(bool level);

    /// <summary>The CLINT's mtimecmp for this hart. MTIP is pending while mtime &gt;= this value; the hart
    /// evaluates that itself against <see cref="MachineClock"/>, so no device thread has to tick.</summary>
    void SetMachineTimerCompare(ulong mtimecmp);

    /// <summary>MEIP: the PLIC's M-mode context for this hart.</summary>
    void SetMachineExternalInterrupt(bool level);

    /// <summary>SEIP: the PLIC's S-mode context for this hart (ORed with the software-writable bit).</summary>
    void SetSupervisorExternalInterrupt(bool level);
}
