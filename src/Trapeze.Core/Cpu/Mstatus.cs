namespace Trapeze.Core.Cpu;

/// <summary>mstatus / sstatus fields for RV64 (Priv. spec 3.1.6, Figure 3.7).</summary>
public static class Mstatus
{
    public const ulong Sie = 1UL << 1, Mie = 1UL << 3, Spie = 1UL << 5, Ube = 1UL << 6, Mpie = 1UL << 7,
        Spp = 1UL << 8, VsMask = 3UL << 9, MppMask = 3UL << 11, FsMask = 3UL << 13,
        XsMask = 3UL << 15, Mprv = 1UL << 17, Sum = 1UL << 18, Mxr = 1UL << 19, Tvm = 1UL << 20, Tw = 1UL << 21,
        Tsr = 1UL << 22, UxlMask = 3UL << 32, SxlMask = 3UL << 34, Sbe = 1UL << 36, Mbe = 1UL << 37, Sd = 1UL << 63;

    public const int MppShift = 11, FsShift = 13;

    /// <summary>UXL = SXL = 2 (64-bit), hard-wired.</summary>
    public const ulong Xlen64 = (2UL << 32) | (2UL << 34);

    public const ulong FsOff = 0, FsInitial = 1UL << 13, FsClean = 2UL << 13, FsDirty = 3UL << 13;

    /// <summary>Bits M-mode software can write.</summary>
    public const ulong WritableM = Sie | Mie | Spie | Mpie | Spp | MppMask | FsMask | Mprv | Sum | Mxr | Tvm | Tw | Tsr;

    /// <summary>Bits visible through sstatus (Priv. spec 4.1.1).</summary>
    public const ulong SstatusView = Sie | Spie | Ube | Spp | VsMask | FsMask | XsMask | Sum | Mxr | UxlMask | Sd;

    /// <summary>Bits S-mode software can write through sstatus.</summary>
    public const ulong WritableS = Sie | Spie | Spp | FsMask | Sum | Mxr;
}
