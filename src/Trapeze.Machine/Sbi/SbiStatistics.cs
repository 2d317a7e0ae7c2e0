namespace Trapeze.Machine.Sbi;

/// <summary>The SBI functions the built-in SBI counts separately (one counter each, see <see cref="SbiStatistics"/>).</summary>
public enum SbiCall
{
    BaseGetSpecVersion, BaseGetImplId, BaseGetImplVersion, BaseProbeExtension, BaseGetMvendorid, BaseGetMarchid,
    BaseGetMimpid,
    TimeSetTimer,
    IpiSendIpi,
    RfenceRemoteFenceI, RfenceRemoteSfenceVma, RfenceRemoteSfenceVmaAsid,
    HsmHartStart, HsmHartStop, HsmHartGetStatus, HsmHartSuspend,
    SrstSystemReset,
    DbcnConsoleWrite, DbcnConsoleRead, DbcnConsoleWriteByte,
    /// <summary>An extension or function that is not implemented (answered SBI_ERR_NOT_SUPPORTED).</summary>
    NotSupported,
}

/// <summary>
/// Hypercall exits of the built-in SBI by extension and function (a user-facing counter, printed by
/// <c>--stats</c>). Incremented from every hart's thread.
/// </summary>
public sealed class SbiStatistics
{
    private static readonly string[] Names =
    [
        "BASE.get_spec_version", "BASE.get_impl_id", "BASE.get_impl_version", "BASE.probe_extension",
        "BASE.get_mvendorid", "BASE.get_marchid", "BASE.get_mimpid",
        "TIME.set_timer",
        "IPI.send_ipi",
        "RFENCE.remote_fence_i", "RFENCE.remote_sfence_vma", "RFENCE.remote_sfence_vma_asid",
        "HSM.hart_start", "HSM.hart_stop", "HSM.hart_get_status", "HSM.hart_suspend",
        "SRST.system_reset",
        "DBCN.console_write", "DBCN.console_read", "DBCN.console_write_byte",
        "not supported",
    ];

    private readonly long[] _counts = new long[Names.Length];

    public void Count(SbiCall call) => Interlocked.Increment(ref _counts[(int)call]);

    public long this[SbiCall call] => Volatile.Read(ref _counts[(int)call]);

    public long Total
    {
        get
        {
            long t = 0;
            for (int i = 0; i < _counts.Length; i++) t += Volatile.Read(ref _counts[i]);
            return t;
        }
    }

    public static string Name(SbiCall call) => Names[(int)call];

    /// <summary>The functions called at least once, with their counts, in extension order.</summary>
    public IEnumerable<(string Name, long Count)> NonZero()
    {
        for (int i = 0; i < _counts.Length; i++)
        {
            long n = Volatile.Read(ref _counts[i]);
            if (n != 0) yield return (Names[i], n);
        }
    }
}
