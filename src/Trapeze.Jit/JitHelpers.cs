using System.Runtime.CompilerServices;
using Trapeze.Core.Cpu;

namespace Trapeze.Jit;

/// <summary>
/// What translated code calls out of line: the TLB-miss paths of loads and stores. They return false
/// when the access raised an exception (recorded in the hart state), exactly as the interpreter's.
/// Loads leave the value, zero-extended, in <see cref="HartState.JitValue"/> (so translated code has no
/// address-taken local); translated code applies the sign extension.
/// </summary>
public static unsafe class JitHelpers
{
    // Optimised at once: these run millions of times a second from translated code, and tier-0 code
    // would not inline the MMU's fast path.
    private const MethodImplOptions Hot = MethodImplOptions.AggressiveOptimization;

    [MethodImpl(Hot)] public static bool Load8(Hart h, ulong va) { bool ok = h.Mmu.Load8(va, out ulong v); h.State->JitValue = v; return ok; }
    [MethodImpl(Hot)] public static bool Load16(Hart h, ulong va) { bool ok = h.Mmu.Load16(va, out ulong v); h.State->JitValue = v; return ok; }
    [MethodImpl(Hot)] public static bool Load32(Hart h, ulong va) { bool ok = h.Mmu.Load32(va, out ulong v); h.State->JitValue = v; return ok; }
    [MethodImpl(Hot)] public static bool Load64(Hart h, ulong va) { bool ok = h.Mmu.Load64(va, out ulong v); h.State->JitValue = v; return ok; }
    [MethodImpl(Hot)] public static bool Store8(Hart h, ulong va, ulong v) => h.Mmu.Store8(va, v);
    [MethodImpl(Hot)] public static bool Store16(Hart h, ulong va, ulong v) => h.Mmu.Store16(va, v);
    [MethodImpl(Hot)] public static bool Store32(Hart h, ulong va, ulong v) => h.Mmu.Store32(va, v);
    [MethodImpl(Hot)] public static bool Store64(Hart h, ulong va, ulong v) => h.Mmu.Store64(va, v);
    [MethodImpl(Hot)] public static void FullFence() => Interlocked.MemoryBarrier();
}
