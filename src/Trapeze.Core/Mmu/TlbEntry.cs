using System.Runtime.InteropServices;

namespace Trapeze.Core.Mmu;

/// <summary>
/// One software-TLB entry (STYLE rule 4): the virtual page it maps, the translation context it was made
/// in (privilege, paging mode, ASID, SUM/MXR — so a context switch needs no flush), and the host addend:
/// host address = guest virtual address + Addend. Entries for pages that must take the slow path every
/// time (device registers, write-watched RAM) carry <see cref="SlowOnly"/> in the tag, which the fast-path
/// compare never matches, but still save the page walk.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public struct TlbEntry
{
    public const ulong SlowOnly = 0x800;
    public const ulong Empty = ulong.MaxValue;

    public ulong Tag;
    public ulong Ctx;
    public nint Addend;
    public ulong PhysPage;
}
