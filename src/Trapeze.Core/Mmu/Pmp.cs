using Trapeze.Core.Cpu;

namespace Trapeze.Core.Mmu;

/// <summary>Physical memory protection (Priv. spec 3.7): 16 entries, granularity 4 bytes (G = 0).</summary>
public static unsafe class Pmp
{
    public const int Entries = 16;
    public const byte R = 1, W = 2, X = 4, AMask = 0x18, L = 0x80;
    public const int AOff = 0, ATor = 1, ANa4 = 2, ANapot = 3;

    /// <summary>pmpaddr holds physical address bits 55:2.</summary>
    public const ulong AddrMask = (1UL << 54) - 1;

    /// <summary>The byte range [lo, hi) an entry covers; hi == 0 with lo == 0 means empty. Ranges are
    /// computed in 128-bit-safe form: hi may be 2^56 (the whole physical space).</summary>
    private static bool Range(HartState* s, int i, out ulong lo, out ulong hi)
    {
        byte cfg = s->PmpCfg[i];
        int a = (cfg & AMask) >> 3;
        ulong addr = s->PmpAddr[i];
        switch (a)
        {
            case ATor:
                lo = i == 0 ? 0 : s->PmpAddr[i - 1] << 2;
                hi = addr << 2;
                return lo < hi;
            case ANa4:
                lo = addr << 2; hi = lo + 4;
                return true;
            case ANapot:
            {
                int ones = System.Numerics.BitOperations.TrailingZeroCount(~addr);
                if (ones >= 54) { lo = 0; hi = 1UL << 56; return true; }
                ulong size = 1UL << (ones + 3);
                lo = (addr & ~((1UL << ones) - 1)) << 2 & ~(size - 1);
                hi = lo + size;
                return true;
            }
            default:
                lo = hi = 0;
                return false;
        }
    }

    private static bool Permits(byte cfg, AccessType t) => t switch
    {
        AccessType.Read => (cfg & R) != 0,
        AccessType.Write => (cfg & W) != 0,
        _ => (cfg & X) != 0,
    };

    /// <summary>Checks an access of <paramref name="size"/> bytes at <paramref name="pa"/>.</summary>
    public static bool Check(HartState* s, ulong pa, ulong size, AccessType t, Privilege priv)
    {
        ulong end = pa + size;
        for (int i = 0; i < Entries; i++)
        {
            if (!Range(s, i, out ulong lo, out ulong hi)) continue;
            bool any = pa < hi && lo < end;
            if (!any) continue;
            // The lowest-numbered entry matching any byte decides; it must match all of them.
            if (pa < lo || end > hi) return false;
            byte cfg = s->PmpCfg[i];
            if (priv == Privilege.Machine && (cfg & L) == 0) return true;
            return Permits(cfg, t);
        }
        return priv == Privilege.Machine;
    }

    /// <summary>True when every byte of the 4 KiB page at <paramref name="page"/> permits the access, so a
    /// TLB entry may cover the whole page.</summary>
    public static bool CheckPage(HartState* s, ulong page, AccessType t, Privilege priv)
        => Check(s, page, 1UL << 12, t, priv);
}
