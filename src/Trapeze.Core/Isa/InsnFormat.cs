namespace Trapeze.Core.Isa;

/// <summary>How operands are laid out in an encoding, and which register file each operand names.</summary>
public enum InsnFormat : byte
{
    None,       // ecall, ebreak, mret, sret, wfi, fence.i
    R,          // xd, xs1, xs2
    I,          // xd, xs1, imm
    ShiftI,     // xd, xs1, shamt
    Load,       // xd, imm(xs1)
    Store,      // xs2, imm(xs1)
    Branch,     // xs1, xs2, pc+imm
    U,          // xd, imm
    J,          // xd, pc+imm
    Csr,        // xd, csr, xs1
    CsrI,       // xd, csr, uimm
    Amo,        // xd, xs2, (xs1)
    Lr,         // xd, (xs1)
    Fence,      // pred, succ
    SfenceVma,  // xs1, xs2
    FLoad,      // fd, imm(xs1)
    FStore,     // fs2, imm(xs1)
    FR,         // fd, fs1, fs2 [rm]
    FR1,        // fd, fs1 [rm]
    FR4,        // fd, fs1, fs2, fs3 [rm]
    FCmp,       // xd, fs1, fs2
    FToX,       // xd, fs1 [rm]
    XToF,       // fd, xs1 [rm]
}

public static class InsnFormatExtensions
{
    /// <summary>True when rd names an integer register (writes to x0 are then sent to the sink register).</summary>
    public static bool WritesX(this InsnFormat f) => f switch
    {
        InsnFormat.R or InsnFormat.I or InsnFormat.ShiftI or InsnFormat.Load or InsnFormat.U or InsnFormat.J
            or InsnFormat.Csr or InsnFormat.CsrI or InsnFormat.Amo or InsnFormat.Lr or InsnFormat.FCmp
            or InsnFormat.FToX => true,
        _ => false,
    };
}
