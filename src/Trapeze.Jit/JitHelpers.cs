using Trapeze.Core.Cpu;

namespace Trapeze.Jit;

/// <summary>
/// What translated code calls out of line: the TLB-miss paths of loads and stores. They return false
/// when the access raised an exception (recorded in the hart state), exactly as the interpreter's.
/// Loads return the value zero-extended; translated code applies the sign extension.
/// </summary>
public static class JitHelpers
{
    public static bool Load8(Hart h, ulong va, out ulong v) => h.Mmu.Load8(va, out v);
    public static bool Load16(Hart h, ulong va, out ulong v) => h.Mmu.Load16(va, out v);
    public static bool Load32(Hart h, ulong va, out ulong v) => h.Mmu.Load32(va, out v);
    public static bool Load64(Hart h, ulong va, out ulong v) => h.Mmu.Load64(va, out v);
    public static bool Store8(Hart h, ulong va, ulong v) => h.Mmu.Store8(va, v);
    public static bool Store16(Hart h, ulong va, ulong v) => h.Mmu.Store16(va, v);
    public static bool Store32(Hart h, ulong va, ulong v) => h.Mmu.Store32(va, v);
    public static bool Store64(Hart h, ulong va, ulong v) => h.Mmu.Store64(va, v);
    public static void FullFence() => Interlocked.MemoryBarrier();
}
