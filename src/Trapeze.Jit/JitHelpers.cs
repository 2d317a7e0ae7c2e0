using System.Runtime.CompilerServices;
using Trapeze.Core.Cpu;
using Trapeze.Core.Isa;

namespace Trapeze.Jit;

/// <summary>
/// What translated code calls out of line: the TLB-miss paths of loads and stores. They return false
/// when the access raised an exception (recorded in the hart state), exactly as the interpreter's.
/// Loads leave the value, zero-extended, in <see cref="HartState.JitValue"/> (so translated code has no
/// address-taken local); translated code applies the sign extension. On an exception they leave there
/// instead the instruction's position in the region, <c>fault</c>, for the region's fault tail.
/// </summary>
public static unsafe class JitHelpers
{
    // Optimised at once: these run millions of times a second from translated code, and tier-0 code
    // would not inline the MMU's fast path. Never inlined into a region: RyuJIT would otherwise import
    // the MMU's inlined fast path again at every access's out-of-line stub, which made regions of memory
    // heavy code cost about 40 % more to compile.
    private const MethodImplOptions Hot = MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining;

    [MethodImpl(Hot)] public static bool Load8(Hart h, ulong va, long fault) { bool ok = h.Mmu.Load8(va, out ulong v); h.State->JitValue = ok ? v : (ulong)fault; return ok; }
    [MethodImpl(Hot)] public static bool Load16(Hart h, ulong va, long fault) { bool ok = h.Mmu.Load16(va, out ulong v); h.State->JitValue = ok ? v : (ulong)fault; return ok; }
    [MethodImpl(Hot)] public static bool Load32(Hart h, ulong va, long fault) { bool ok = h.Mmu.Load32(va, out ulong v); h.State->JitValue = ok ? v : (ulong)fault; return ok; }
    [MethodImpl(Hot)] public static bool Load64(Hart h, ulong va, long fault) { bool ok = h.Mmu.Load64(va, out ulong v); h.State->JitValue = ok ? v : (ulong)fault; return ok; }
    [MethodImpl(Hot)] public static bool Store8(Hart h, ulong va, ulong v, long fault) => Stored(h, h.Mmu.Store8(va, v), fault);
    [MethodImpl(Hot)] public static bool Store16(Hart h, ulong va, ulong v, long fault) => Stored(h, h.Mmu.Store16(va, v), fault);
    [MethodImpl(Hot)] public static bool Store32(Hart h, ulong va, ulong v, long fault) => Stored(h, h.Mmu.Store32(va, v), fault);
    [MethodImpl(Hot)] public static bool Store64(Hart h, ulong va, ulong v, long fault) => Stored(h, h.Mmu.Store64(va, v), fault);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Stored(Hart h, bool ok, long fault)
    {
        if (!ok) h.State->JitValue = (ulong)fault;
        return ok;
    }

    [MethodImpl(Hot)] public static void FullFence() => Interlocked.MemoryBarrier();

    // The interpreter's handlers of the instructions a region runs out of line (A, CSR, F/D whose checks
    // fail). Called through these so that RyuJIT does not inline the handlers' small front ends, and what
    // those inline in turn, into every region that holds such an instruction.
    [MethodImpl(Hot)] public static bool LrW(Hart h, HartState* s, in DecodedInsn d) => Rv64A.LrW(h, s, d);
    [MethodImpl(Hot)] public static bool LrD(Hart h, HartState* s, in DecodedInsn d) => Rv64A.LrD(h, s, d);
    [MethodImpl(Hot)] public static bool ScW(Hart h, HartState* s, in DecodedInsn d) => Rv64A.ScW(h, s, d);
    [MethodImpl(Hot)] public static bool ScD(Hart h, HartState* s, in DecodedInsn d) => Rv64A.ScD(h, s, d);
    [MethodImpl(Hot)] public static bool Amo(Hart h, HartState* s, in DecodedInsn d) => Rv64A.Amo(h, s, d);
    [MethodImpl(Hot)] public static bool ExecuteF(Hart h, HartState* s, in DecodedInsn d) => Rv64F.Execute(h, s, d);
    [MethodImpl(Hot)] public static bool ExecuteD(Hart h, HartState* s, in DecodedInsn d) => Rv64D.Execute(h, s, d);
    [MethodImpl(Hot)] public static bool ExecuteCsr(Hart h, HartState* s, in DecodedInsn d) => Hart.ExecuteCsr(h, s, d);
}
