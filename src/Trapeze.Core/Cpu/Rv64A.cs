using Trapeze.Core.Isa;

namespace Trapeze.Core.Cpu;

/// <summary>
/// RV64A atomics (Unpriv. spec chapter 8). AMOs map to host interlocked operations, so they are atomic
/// between harts running on different host threads; SC succeeds only if memory still holds the value LR
/// read (a compare-and-swap), which is how the reservation is observed across threads.
/// </summary>
public static unsafe class Rv64A
{
    public static bool LrW(Hart h, HartState* s, in DecodedInsn d) => Lr(h, s, d, 4);
    public static bool LrD(Hart h, HartState* s, in DecodedInsn d) => Lr(h, s, d, 8);
    public static bool ScW(Hart h, HartState* s, in DecodedInsn d) => Sc(h, s, d, 4);
    public static bool ScD(Hart h, HartState* s, in DecodedInsn d) => Sc(h, s, d, 8);

    private static bool Lr(Hart h, HartState* s, in DecodedInsn d, int size)
    {
        ulong va = s->X[d.Rs1];
        if (!h.Mmu.TranslateAtomic(va, size, write: false, out byte* host, out ulong pa)) return false;
        ulong v;
        if (host != null) v = size == 4 ? (ulong)(long)Volatile.Read(ref *(int*)host) : Volatile.Read(ref *(ulong*)host);
        else
        {
            if (!h.Mmu.ReadPhysical(pa, size, va, out v)) return false;
            if (size == 4) v = (ulong)(long)(int)v;
        }
        s->ReservationAddress = pa;
        s->ReservationValue = v;
        s->ReservationValid = 1;
        s->X[d.Rd] = v;
        return true;
    }

    private static bool Sc(Hart h, HartState* s, in DecodedInsn d, int size)
    {
        ulong va = s->X[d.Rs1];
        ulong value = s->X[d.Rs2];
        if ((va & (ulong)(size - 1)) != 0)
        {
            s->PendingCause = (byte)ExceptionCause.StoreMisaligned;
            s->PendingTval = va;
            return false;
        }
        bool held = s->ReservationValid != 0;
        s->ReservationValid = 0;
        if (!held) { s->X[d.Rd] = 1; return true; }
        if (!h.Mmu.TranslateAtomic(va, size, write: true, out byte* host, out ulong pa)) return false;
        bool ok;
        if (pa != s->ReservationAddress) ok = false;
        else if (host != null)
        {
            ok = size == 4
                ? Interlocked.CompareExchange(ref *(int*)host, (int)value, (int)s->ReservationValue) == (int)s->ReservationValue
                : Interlocked.CompareExchange(ref *(ulong*)host, value, s->ReservationValue) == s->ReservationValue;
            if (ok) h.Mmu.NotifyAtomicWrite(pa, size);
        }
        else
        {
            if (!h.Mmu.WritePhysical(pa, size, va, value)) return false;
            ok = true;
        }
        s->X[d.Rd] = ok ? 0UL : 1UL;
        return true;
    }

    /// <summary>All AMO*.W and AMO*.D: read-modify-write with the old value (sign-extended for .W) in rd.</summary>
    public static bool Amo(Hart h, HartState* s, in DecodedInsn d)
    {
        bool word = d.Op <= Op.AmomaxuW;
        int size = word ? 4 : 8;
        ulong va = s->X[d.Rs1];
        ulong src = s->X[d.Rs2];
        if (!h.Mmu.TranslateAtomic(va, size, write: true, out byte* host, out ulong pa)) return false;
        ulong old;
        if (host != null)
        {
            old = word ? (ulong)(long)AmoW(d.Op, (int*)host, (int)src) : AmoD(d.Op, (long*)host, (long)src);
            h.Mmu.NotifyAtomicWrite(pa, size);
        }
        else
        {
            if (!h.Mmu.ReadPhysical(pa, size, va, out old)) return false;
            if (word) old = (ulong)(long)(int)old;
            ulong result = word ? (ulong)Combine32(d.Op, (int)old, (int)src) : (ulong)Combine64(d.Op, (long)old, (long)src);
            if (!h.Mmu.WritePhysical(pa, size, va, result)) return false;
        }
        s->X[d.Rd] = old;
        return true;
    }

    private static int AmoW(Op op, int* p, int v)
    {
        switch (op)
        {
            case Op.AmoswapW: return Interlocked.Exchange(ref *p, v);
            case Op.AmoaddW: return Interlocked.Add(ref *p, v) - v;
            case Op.AmoandW: return Interlocked.And(ref *p, v);
            case Op.AmoorW: return Interlocked.Or(ref *p, v);
        }
        int old = Volatile.Read(ref *p);
        while (true)
        {
            int seen = Interlocked.CompareExchange(ref *p, Combine32(op, old, v), old);
            if (seen == old) return old;
            old = seen;
        }
    }

    private static ulong AmoD(Op op, long* p, long v)
    {
        switch (op)
        {
            case Op.AmoswapD: return (ulong)Interlocked.Exchange(ref *p, v);
            case Op.AmoaddD: return (ulong)(Interlocked.Add(ref *p, v) - v);
            case Op.AmoandD: return (ulong)Interlocked.And(ref *p, v);
            case Op.AmoorD: return (ulong)Interlocked.Or(ref *p, v);
        }
        long old = Volatile.Read(ref *p);
        while (true)
        {
            long seen = Interlocked.CompareExchange(ref *p, Combine64(op, old, v), old);
            if (seen == old) return (ulong)old;
            old = seen;
        }
    }

    private static int Combine32(Op op, int a, int b) => op switch
    {
        Op.AmoswapW => b,
        Op.AmoaddW => a + b,
        Op.AmoxorW => a ^ b,
        Op.AmoandW => a & b,
        Op.AmoorW => a | b,
        Op.AmominW => Math.Min(a, b),
        Op.AmomaxW => Math.Max(a, b),
        Op.AmominuW => (int)Math.Min((uint)a, (uint)b),
        _ => (int)Math.Max((uint)a, (uint)b),
    };

    private static long Combine64(Op op, long a, long b) => op switch
    {
        Op.AmoswapD => b,
        Op.AmoaddD => a + b,
        Op.AmoxorD => a ^ b,
        Op.AmoandD => a & b,
        Op.AmoorD => a | b,
        Op.AmominD => Math.Min(a, b),
        Op.AmomaxD => Math.Max(a, b),
        Op.AmominuD => (long)Math.Min((ulong)a, (ulong)b),
        _ => (long)Math.Max((ulong)a, (ulong)b),
    };
}
