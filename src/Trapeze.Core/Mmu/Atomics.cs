using Trapeze.Core.Cpu;

namespace Trapeze.Core.Mmu;

public sealed unsafe partial class SoftMmu
{
    /// <summary>
    /// Resolves the target of an LR, SC or AMO: must be naturally aligned (else address-misaligned: the A
    /// extension does not perform misaligned atomics), translated for writing (AMO/SC) or reading (LR).
    /// <paramref name="host"/> is null when the target is a device, which the caller then accesses
    /// non-atomically through <see cref="ReadPhysical"/>/<see cref="WritePhysical"/>.
    /// </summary>
    public bool TranslateAtomic(ulong va, int size, bool write, out byte* host, out ulong pa)
    {
        host = null;
        pa = 0;
        if ((va & (ulong)(size - 1)) != 0)
            return Fail(write ? ExceptionCause.StoreMisaligned : ExceptionCause.LoadMisaligned, va);
        if (!Translate(va, size, write ? AccessType.Write : AccessType.Read, out pa)) return false;
        var m = _bus.FindMemory(pa);
        if (m != null && m.Contains(pa, (ulong)size))
        {
            if (write && m.ReadOnly) return Fail(ExceptionCause.StoreAccessFault, va);
            host = m.Host + (pa - m.Base);
            if (write) Log?.BeforeRamWrite(host, pa, size);
        }
        else if (_bus.FindDevice(pa, size) == null)
            return Fail(write ? ExceptionCause.StoreAccessFault : ExceptionCause.LoadAccessFault, va);
        return true;
    }

    /// <summary>Reports an atomic write (it bypassed the store paths) to code tracking and watches.</summary>
    public void NotifyAtomicWrite(ulong pa, int size)
    {
        if (_bus.FindMemory(pa) is { } m) AfterRamWrite(m, pa, size);
    }
}
