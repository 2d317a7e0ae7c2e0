using Trapeze.Core.Cpu;
using Trapeze.Core.Memory;
using Trapeze.Core.Mmu;
using Trapeze.Devices.Power;

namespace Trapeze.Machine.Sbi;

/// <summary>
/// The monitor's own SBI (<c>--bios builtin</c>, SBI spec v2.0): the kernel is entered in S-mode as firmware
/// would enter it, and its ECALLs are answered here, in C#, on the calling hart's thread — hypercalls, counted
/// by function in <see cref="Statistics"/>. M-mode is never entered by the guest.
/// <list type="bullet">
/// <item>BASE, TIME (stimecmp: the harts implement Sstc), IPI (SSIP), RFENCE (requests the target harts carry
///   out before the caller returns), HSM (secondary harts start parked), SRST, DBCN (the UART's line).</item>
/// <item>No legacy (v0.1) extensions: Debian's kernel is built without them.</item>
/// </list>
/// </summary>
public sealed unsafe partial class BuiltinSbi
{
    /// <summary>SBI specification v2.0: major in bits 30:24, minor in 23:0.</summary>
    public const ulong SpecVersion = 2UL << 24;

    /// <summary>"TRPZ". The spec's table of implementation IDs ends at 11 (bhyve) and IDs are assigned in
    /// order, so an ID far above it neither claims another implementation (whose quirks a kernel might work
    /// around) nor is likely to be assigned to one.</summary>
    public const ulong ImplementationId = 0x5452_505A;

    /// <summary>Where the kernel goes, from the base of DRAM: the 2 MiB a Linux Image's text_offset asks for,
    /// where it also lands after OpenSBI. Nothing occupies the RAM below it; the kernel may use it.</summary>
    public const ulong KernelOffset = 0x20_0000;

    /// <summary>Exceptions delegated to S-mode: what OpenSBI delegates (0xb109: misaligned fetch, breakpoint,
    /// ECALL from U, page faults) plus what OpenSBI handles in M-mode by redirecting it to S-mode unchanged —
    /// access faults, illegal instructions, misaligned loads and stores (0xb1ff). With no M-mode code, delegation
    /// is how those reach the kernel. ECALL from S is answered by this class before any trap.</summary>
    public const ulong Medeleg = 0xb1ff;

    /// <summary>Interrupts delegated to S-mode: SSIP, STIP, SEIP (as OpenSBI: 0x222).</summary>
    public const ulong Mideleg = Interrupt.Ssip | Interrupt.Stip | Interrupt.Seip;

    /// <summary>Bytes one DBCN read or write moves at most (the spec allows partial transfers).</summary>
    public const int MaxConsoleTransfer = 64 * 1024;

    private readonly Hart[] _harts;
    private readonly GuestMemory _memory;
    private readonly IDebugConsole _console;
    private readonly Action<PowerRequest> _power;
    private readonly int[] _hsm;

    public BuiltinSbi(Hart[] harts, GuestMemory memory, IDebugConsole console, Action<PowerRequest> power)
    {
        ArgumentNullException.ThrowIfNull(harts);
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(power);
        // Hart masks are handled as one 64-bit set (MachineConfig.MaxHarts).
        if (harts.Length is < 1 or > 64) throw new ArgumentOutOfRangeException(nameof(harts), "1 to 64 harts");
        _harts = harts;
        _memory = memory;
        _console = console;
        _power = power;
        _hsm = new int[harts.Length];
        foreach (var h in harts) h.SupervisorEcallHandler = Handle;
    }

    public SbiStatistics Statistics { get; } = new();

    /// <summary>Implementation version: the monitor's version, major.minor as (major &lt;&lt; 16) | minor.</summary>
    public static ulong ImplementationVersion { get; } = VersionOf(typeof(BuiltinSbi).Assembly.GetName().Version);

    private static ulong VersionOf(Version? v) => v == null ? 0 : (ulong)(uint)v.Major << 16 | (ushort)v.Minor;

    /// <summary>The HSM state of a hart (what sbi_hart_get_status would say).</summary>
    public HsmState StateOf(int hartId) => (HsmState)Volatile.Read(ref _hsm[hartId]);

    /// <summary>
    /// Leaves the harts as firmware leaves them for a kernel (after their reset, before their threads run):
    /// M-mode state set up once and for all, the boot hart in S-mode at <paramref name="entry"/> with
    /// a0 = hartid and a1 = <paramref name="fdt"/> (the RISC-V Linux boot protocol), every other hart parked
    /// in HSM STOPPED until a hart_start.
    /// </summary>
    public void PrepareHarts(ulong entry, ulong fdt, int bootHart = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bootHart);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(bootHart, _harts.Length);
        for (int i = 0; i < _harts.Length; i++)
        {
            var h = _harts[i];
            ConfigureMachineMode(h);
            if (i == bootHart)
            {
                h.StartSupervisor(entry, fdt);
                Volatile.Write(ref _hsm[i], (int)HsmState.Started);
            }
            else
            {
                h.Park();
                Volatile.Write(ref _hsm[i], (int)HsmState.Stopped);
            }
        }
    }

    /// <summary>The M-mode state OpenSBI would leave: delegation, counters visible to S and U, Sstc enabled
    /// (menvcfg.STCE), no timer event pending (stimecmp = all ones), and a PMP entry granting everything (with
    /// PMP implemented, an S/U access that matches no entry fails: Priv. spec 3.7.1).</summary>
    public static void ConfigureMachineMode(Hart h)
    {
        ArgumentNullException.ThrowIfNull(h);
        Set(h, Csr.Medeleg, Medeleg);
        Set(h, Csr.Mideleg, Mideleg);
        Set(h, Csr.Mcounteren, 0xffff_ffff);
        Set(h, Csr.Scounteren, 0xffff_ffff);
        Set(h, Csr.Menvcfg, Hart.MenvcfgStce);
        Set(h, Csr.Stimecmp, ulong.MaxValue);
        Set(h, Csr.Pmpaddr0, ulong.MaxValue);
        Set(h, Csr.Pmpcfg0, (Pmp.ANapot << 3) | Pmp.R | Pmp.W | Pmp.X);

        static void Set(Hart h, ushort csr, ulong value)
        {
            if (!h.CsrWrite(csr, value)) throw new InvalidOperationException($"cannot write {Csr.Name(csr)}");
        }
    }

    /// <summary>The ECALL-from-S handler (<see cref="Hart.SupervisorEcallHandler"/>): a7 = extension, a6 =
    /// function, arguments in a0..a5; returns a0 = error, a1 = value; every other register is preserved.</summary>
    public bool Handle(Hart hart)
    {
        HartState* s = hart.State;
        ulong eid = s->X[17], fid = s->X[16];
        SbiRet r = eid switch
        {
            SbiExtension.Base => Base(hart, fid, s->X[10]),
            SbiExtension.Time => Time(hart, fid, s->X[10]),
            SbiExtension.Ipi => Ipi(fid, s->X[10], s->X[11]),
            SbiExtension.Rfence => Rfence(hart, fid, s->X[10], s->X[11], s->X[12], s->X[13]),
            SbiExtension.Hsm => Hsm(hart, fid, s->X[10], s->X[11], s->X[12]),
            SbiExtension.Srst => Srst(hart, fid, s->X[10], s->X[11]),
            SbiExtension.Dbcn => Dbcn(fid, s->X[10], s->X[11], s->X[12]),
            _ => NotSupported(),
        };
        if (!r.IsNoReturn)
        {
            s->X[10] = (ulong)r.Error;
            s->X[11] = r.Value;
        }
        return true;
    }

    private SbiRet NotSupported()
    {
        Statistics.Count(SbiCall.NotSupported);
        return SbiRet.Fail(SbiError.NotSupported);
    }

    /// <summary>True for the extensions this SBI implements (probe_extension answers 1 for them).</summary>
    public static bool Implements(ulong eid) => eid is SbiExtension.Base or SbiExtension.Time or SbiExtension.Ipi
        or SbiExtension.Rfence or SbiExtension.Hsm or SbiExtension.Srst or SbiExtension.Dbcn;

    // ------------------------------------------------------------------ BASE (EID 0x10)

    private SbiRet Base(Hart hart, ulong fid, ulong a0)
    {
        switch (fid)
        {
            case 0: Statistics.Count(SbiCall.BaseGetSpecVersion); return SbiRet.Ok(SpecVersion);
            case 1: Statistics.Count(SbiCall.BaseGetImplId); return SbiRet.Ok(ImplementationId);
            case 2: Statistics.Count(SbiCall.BaseGetImplVersion); return SbiRet.Ok(ImplementationVersion);
            case 3: Statistics.Count(SbiCall.BaseProbeExtension); return SbiRet.Ok(Implements(a0) ? 1UL : 0UL);
            // The values of the harts' own CSRs, which are legal by definition.
            case 4: Statistics.Count(SbiCall.BaseGetMvendorid); return SbiRet.Ok(ReadCsr(hart, Csr.Mvendorid));
            case 5: Statistics.Count(SbiCall.BaseGetMarchid); return SbiRet.Ok(ReadCsr(hart, Csr.Marchid));
            case 6: Statistics.Count(SbiCall.BaseGetMimpid); return SbiRet.Ok(ReadCsr(hart, Csr.Mimpid));
            default: return NotSupported();
        }
    }

    private static ulong ReadCsr(Hart hart, ushort csr) => hart.CsrRead(csr, out ulong v) ? v : 0;

    // ------------------------------------------------------------------ TIME (EID "TIME")

    /// <summary>set_timer: stimecmp takes the deadline, and STIP follows it (Sstc) — pending while time is
    /// past it, cleared by a deadline in the future; the hart evaluates it itself, asleep or running.</summary>
    private SbiRet Time(Hart hart, ulong fid, ulong stimeValue)
    {
        if (fid != 0) return NotSupported();
        Statistics.Count(SbiCall.TimeSetTimer);
        hart.CsrWrite(Csr.Stimecmp, stimeValue);
        return SbiRet.Ok();
    }

    // ------------------------------------------------------------------ SRST (EID "SRST")

    /// <summary>system_reset: shutdown powers off (exit code 0, or 1 when the reason is a system failure); a cold
    /// or warm reboot resets the machine. On success the calling hart stops where it is.</summary>
    private SbiRet Srst(Hart hart, ulong fid, ulong type, ulong reason)
    {
        if (fid != 0) return NotSupported();
        Statistics.Count(SbiCall.SrstSystemReset);
        // Reserved values and platform-specific ones (none implemented) are invalid parameters.
        if (type > SbiReset.WarmReboot || reason > SbiReset.SystemFailure) return SbiRet.Fail(SbiError.InvalidParam);
        _power(type == SbiReset.Shutdown
            ? reason == SbiReset.SystemFailure ? new PowerRequest(PowerRequestKind.Fail, 1) : new PowerRequest(PowerRequestKind.PowerOff, 0)
            : new PowerRequest(PowerRequestKind.Reset, 0));
        hart.Park();
        return SbiRet.NoReturn;
    }

    // ------------------------------------------------------------------ DBCN (EID "DBCN")

    private SbiRet Dbcn(ulong fid, ulong a0, ulong a1, ulong a2)
    {
        switch (fid)
        {
            case 0:
                Statistics.Count(SbiCall.DbcnConsoleWrite);
                return ConsoleTransfer(a0, a1, a2, write: true);
            case 1:
                Statistics.Count(SbiCall.DbcnConsoleRead);
                return ConsoleTransfer(a0, a1, a2, write: false);
            case 2:
                Statistics.Count(SbiCall.DbcnConsoleWriteByte);
                _console.Write([(byte)a0]);
                return SbiRet.Ok();
            default:
                return NotSupported();
        }
    }

    /// <summary>console_write / console_read: the whole range [base, base + count) must be guest memory (RAM
    /// or ROM; writable for a read), else SBI_ERR_INVALID_PARAM; at most <see cref="MaxConsoleTransfer"/>
    /// bytes move. Returns the number of bytes moved.</summary>
    private SbiRet ConsoleTransfer(ulong count, ulong baseLo, ulong baseHi, bool write)
    {
        // Physical addresses here are at most 56 bits: a non-zero high half cannot be memory.
        if (baseHi != 0) return SbiRet.Fail(SbiError.InvalidParam);
        if (count == 0) return SbiRet.Ok(0);
        GuestRam? m = _memory.Bus.FindMemory(baseLo);
        if (m == null || !m.Contains(baseLo, count) || (!write && m.ReadOnly)) return SbiRet.Fail(SbiError.InvalidParam);
        int n = (int)Math.Min(count, (ulong)MaxConsoleTransfer);
        if (write)
        {
            if (!_memory.TryGetSpan(baseLo, n, forWrite: false, out Span<byte> span)) return SbiRet.Fail(SbiError.InvalidParam);
            _console.Write(span);
            return SbiRet.Ok((ulong)n);
        }
        // Read into a bounce buffer so that only the bytes actually read are written (and marked written).
        Span<byte> buffer = stackalloc byte[Math.Min(n, 256)];
        int got = _console.Read(buffer);
        if (got > 0 && !_memory.TryWrite(baseLo, buffer[..got])) return SbiRet.Fail(SbiError.Failed);
        return SbiRet.Ok((ulong)got);
    }
}
