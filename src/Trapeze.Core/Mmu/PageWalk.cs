using Trapeze.Core.Cpu;

namespace Trapeze.Core.Mmu;

/// <summary>The Sv39/Sv48/Sv57 page-table walk (Priv. spec 4.3.2, 4.4, 4.5, 4.6).</summary>
public sealed unsafe partial class SoftMmu
{
    public const ulong SatpModeBare = 0, SatpModeSv39 = 8, SatpModeSv48 = 9, SatpModeSv57 = 10;

    private const ulong PteV = 1, PteR = 2, PteW = 4, PteX = 8, PteU = 16, PteG = 32, PteA = 64, PteD = 128;
    // Bits 63:54 (N, PBMT and reserved): Svnapot and Svpbmt are not implemented, so any of them is a fault.
    private const ulong PteReserved = 0x3ffUL << 54;
    private const ulong PpnMask = (1UL << 44) - 1;

    public static int Levels(ulong mode) => mode switch { SatpModeSv39 => 3, SatpModeSv48 => 4, SatpModeSv57 => 5, _ => 0 };

    private bool Walk(ulong va, AccessType type, Privilege priv, int mode, out ulong pa, out bool dirty)
    {
        pa = 0;
        dirty = false;
        int levels = Levels((ulong)mode);
        if (levels == 0) return Fail(PageFault(type), va);
        int vaBits = 12 + 9 * levels;
        // The address must be sign-extended from its top implemented bit (4.3.1).
        if (((long)(va << (64 - vaBits)) >> (64 - vaBits)) != (long)va) return Fail(PageFault(type), va);

        ulong table = (_s->Satp & PpnMask) << 12;
        bool sum = (_s->Mstatus & Mstatus.Sum) != 0;
        bool mxr = (_s->Mstatus & Mstatus.Mxr) != 0;

        for (int level = levels - 1; level >= 0; level--)
        {
            ulong vpn = (va >> (12 + 9 * level)) & 0x1ff;
            ulong pteAddr = table + vpn * 8;
        retry:
            // The walk's own reads are S-mode implicit accesses checked by PMP (3.7.1).
            if (!Pmp.Check(_s, pteAddr, 8, AccessType.Read, Privilege.Supervisor))
                return Fail(AccessFault(type), va);
            var m = _bus.FindMemory(pteAddr);
            if (m == null || !m.Contains(pteAddr, 8)) return Fail(AccessFault(type), va);
            ulong* ptePtr = (ulong*)(m.Host + (pteAddr - m.Base));
            ulong pte = Volatile.Read(ref *ptePtr);

            if ((pte & PteV) == 0 || ((pte & PteR) == 0 && (pte & PteW) != 0) || (pte & PteReserved) != 0)
                return Fail(PageFault(type), va);

            ulong ppn = (pte >> 10) & PpnMask;
            if ((pte & (PteR | PteX)) == 0)
            {
                // Pointer to the next level.
                if (level == 0) return Fail(PageFault(type), va);
                table = ppn << 12;
                continue;
            }

            // Leaf: permissions (4.3.2 step 5).
            bool allowed = type switch
            {
                AccessType.Fetch => (pte & PteX) != 0,
                AccessType.Read => (pte & PteR) != 0 || (mxr && (pte & PteX) != 0),
                _ => (pte & PteW) != 0,
            };
            if (!allowed) return Fail(PageFault(type), va);
            if ((pte & PteU) != 0)
            {
                if (priv == Privilege.Supervisor && (type == AccessType.Fetch || !sum)) return Fail(PageFault(type), va);
            }
            else if (priv == Privilege.User) return Fail(PageFault(type), va);

            // A superpage's low PPN fields must be zero (step 6).
            ulong lowMask = (1UL << (9 * level)) - 1;
            if ((ppn & lowMask) != 0) return Fail(PageFault(type), va);

            // Hardware A/D update (step 7), atomically against other harts' walks and stores.
            ulong want = pte | PteA | (type == AccessType.Write ? PteD : 0);
            if (want != pte)
            {
                if (!Pmp.Check(_s, pteAddr, 8, AccessType.Write, Privilege.Supervisor) || m.ReadOnly)
                    return Fail(AccessFault(type), va);
                Log?.BeforeRamWrite((byte*)ptePtr, pteAddr, 8);
                if (Interlocked.CompareExchange(ref *ptePtr, want, pte) != pte) goto retry;
                AfterRamWrite(m, pteAddr, 8);
            }
            dirty = (want & PteD) != 0;
            pa = ((ppn & ~lowMask) << 12) | (va & ((1UL << (12 + 9 * level)) - 1));
            return true;
        }
        return Fail(PageFault(type), va);
    }
}
