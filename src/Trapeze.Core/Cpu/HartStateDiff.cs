namespace Trapeze.Core.Cpu;

/// <summary>One architectural field of two hart states that differ.</summary>
public readonly record struct HartStateDifference(string Field, ulong Expected, ulong Actual)
{
    public override string ToString() => $"{Field}: expected 0x{Expected:x}, got 0x{Actual:x}";
}

/// <summary>
/// Compares two hart states field by field over the architectural part of <see cref="HartState"/>
/// (registers, pc, retired count, privilege, FP status, CSRs, PMP, the LR/SC reservation). Derived fields
/// (translation contexts, TLB pointers, the pending-exception scratch, JitValue) are not compared. Used by
/// the differential fuzzer and by lockstep runs, which both compare the interpreter with tier 1.
/// </summary>
public static unsafe class HartStateDiff
{
    /// <summary>The differences between <paramref name="expected"/> and <paramref name="actual"/>, in field
    /// order (registers first). <paramref name="ignoreMip"/>: skip mip, which device threads change at any
    /// time.</summary>
    public static List<HartStateDifference> Compare(HartState* expected, HartState* actual, bool ignoreMip = false)
    {
        var list = new List<HartStateDifference>();
        if (FastEqual(expected, actual, ignoreMip)) return list;
        void Check(string name, ulong a, ulong b)
        {
            if (a != b) list.Add(new HartStateDifference(name, a, b));
        }
        for (int r = 1; r < 32; r++) Check($"x{r}", expected->X[r], actual->X[r]);
        for (int r = 0; r < 32; r++) Check($"f{r}", expected->F[r], actual->F[r]);
        Check("pc", expected->Pc, actual->Pc);
        Check("retired", expected->Retired, actual->Retired);
        Check("priv", (ulong)expected->Priv, (ulong)actual->Priv);
        Check("fflags", expected->Fflags, actual->Fflags);
        Check("frm", expected->Frm, actual->Frm);
        Check("wfi", expected->Wfi, actual->Wfi);
        Check("mstatus", expected->Mstatus, actual->Mstatus);
        Check("medeleg", expected->Medeleg, actual->Medeleg);
        Check("mideleg", expected->Mideleg, actual->Mideleg);
        Check("mie", expected->Mie, actual->Mie);
        if (!ignoreMip) Check("mip", expected->Mip, actual->Mip);
        Check("mtvec", expected->Mtvec, actual->Mtvec);
        Check("mscratch", expected->Mscratch, actual->Mscratch);
        Check("mepc", expected->Mepc, actual->Mepc);
        Check("mcause", expected->Mcause, actual->Mcause);
        Check("mtval", expected->Mtval, actual->Mtval);
        Check("mcounteren", expected->Mcounteren, actual->Mcounteren);
        Check("mcountinhibit", expected->Mcountinhibit, actual->Mcountinhibit);
        Check("menvcfg", expected->Menvcfg, actual->Menvcfg);
        Check("mcycle offset", expected->McycleOffset, actual->McycleOffset);
        Check("minstret offset", expected->MinstretOffset, actual->MinstretOffset);
        Check("stvec", expected->Stvec, actual->Stvec);
        Check("sscratch", expected->Sscratch, actual->Sscratch);
        Check("sepc", expected->Sepc, actual->Sepc);
        Check("scause", expected->Scause, actual->Scause);
        Check("stval", expected->Stval, actual->Stval);
        Check("scounteren", expected->Scounteren, actual->Scounteren);
        Check("senvcfg", expected->Senvcfg, actual->Senvcfg);
        Check("satp", expected->Satp, actual->Satp);
        Check("stimecmp", expected->Stimecmp, actual->Stimecmp);
        for (int i = 0; i < 16; i++) Check($"pmpcfg[{i}]", expected->PmpCfg[i], actual->PmpCfg[i]);
        for (int i = 0; i < 16; i++) Check($"pmpaddr{i}", expected->PmpAddr[i], actual->PmpAddr[i]);
        Check("reservation valid", expected->ReservationValid, actual->ReservationValid);
        if (expected->ReservationValid != 0 && actual->ReservationValid != 0)
        {
            Check("reservation address", expected->ReservationAddress, actual->ReservationAddress);
            Check("reservation value", expected->ReservationValue, actual->ReservationValue);
        }
        return list;
    }

    /// <summary>Copies the architectural state of <paramref name="from"/> into <paramref name="to"/>, keeping
    /// <paramref name="to"/>'s derived fields (TLB pointers) and, when asked, its mip.</summary>
    public static void CopyArchitectural(HartState* from, HartState* to, bool keepMip)
    {
        ulong mip = Volatile.Read(ref to->Mip);
        var read = to->ReadTlb; var write = to->WriteTlb; var fetch = to->FetchTlb;
        ulong dataCtx = to->DataCtx, fetchCtx = to->FetchCtx;
        *to = *from;
        to->ReadTlb = read; to->WriteTlb = write; to->FetchTlb = fetch;
        to->DataCtx = dataCtx; to->FetchCtx = fetchCtx;
        if (keepMip) to->Mip = mip;
    }

    /// <summary>Byte equality of everything up to the pending-exception scratch, mip aside when asked
    /// (padding included: both states are copies of zero-initialised memory).</summary>
    private static bool FastEqual(HartState* a, HartState* b, bool ignoreMip)
    {
        int length = (int)((byte*)&a->PendingTval - (byte*)a);
        if (!ignoreMip) return new ReadOnlySpan<byte>(a, length).SequenceEqual(new ReadOnlySpan<byte>(b, length));
        int mip = (int)((byte*)&a->Mip - (byte*)a), after = mip + sizeof(ulong);
        return new ReadOnlySpan<byte>(a, mip).SequenceEqual(new ReadOnlySpan<byte>(b, mip))
               && new ReadOnlySpan<byte>((byte*)a + after, length - after).SequenceEqual(new ReadOnlySpan<byte>((byte*)b + after, length - after));
    }
}
