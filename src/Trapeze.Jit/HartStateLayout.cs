using Trapeze.Core.Cpu;

namespace Trapeze.Jit;

/// <summary>Byte offsets of the hart-state fields translated code reads and writes.</summary>
public static unsafe class HartStateLayout
{
    public static readonly int X, F, Frm, Mstatus, Pc, Retired, Mip, Mie, DataCtx, ReadTlb, WriteTlb, JitValue;

    static HartStateLayout()
    {
        HartState s = default;
        byte* b = (byte*)&s;
        X = (int)((byte*)s.X - b);
        F = (int)((byte*)s.F - b);
        Frm = (int)((byte*)&s.Frm - b);
        Mstatus = (int)((byte*)&s.Mstatus - b);
        Pc = (int)((byte*)&s.Pc - b);
        Retired = (int)((byte*)&s.Retired - b);
        Mip = (int)((byte*)&s.Mip - b);
        Mie = (int)((byte*)&s.Mie - b);
        DataCtx = (int)((byte*)&s.DataCtx - b);
        ReadTlb = (int)((byte*)&s.ReadTlb - b);
        WriteTlb = (int)((byte*)&s.WriteTlb - b);
        JitValue = (int)((byte*)&s.JitValue - b);
    }

    public static int XReg(int r) => X + 8 * r;

    public static int FReg(int r) => F + 8 * r;
}
