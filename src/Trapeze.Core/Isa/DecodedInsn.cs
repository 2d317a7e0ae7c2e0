using System.Runtime.InteropServices;

namespace Trapeze.Core.Isa;

/// <summary>
/// One decoded instruction. Integer destination x0 is rewritten to <see cref="SinkRegister"/> so that
/// handlers can write unconditionally and x0 stays zero without a check per instruction.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct DecodedInsn
{
    public const byte SinkRegister = 32;

    public long Imm;       // immediate, CSR number, shift amount, fence bits
    public uint Raw;       // the encoding (16 or 32 bits), for mtval and diagnostics
    public Op Op;
    public ushort Entry;   // index into DecodeTable.Entries (for the disassembler)
    public byte Rd, Rs1, Rs2, Rs3;
    public byte Rm;        // rounding mode field (FP) or aq/rl bits (A)
    public byte Length;    // 2 or 4

    public readonly bool IsCompressed => Length == 2;
}
