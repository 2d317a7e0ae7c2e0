namespace Trapeze.Machine.Sbi;

/// <summary>SBI extension IDs (EIDs, passed in a7), SBI spec v2.0.</summary>
public static class SbiExtension
{
    public const ulong Base = 0x10;
    /// <summary>"TIME"</summary>
    public const ulong Time = 0x54494D45;
    /// <summary>"sPI": S-mode IPI</summary>
    public const ulong Ipi = 0x735049;
    /// <summary>"RFNC"</summary>
    public const ulong Rfence = 0x52464E43;
    /// <summary>"HSM": hart state management</summary>
    public const ulong Hsm = 0x48534D;
    /// <summary>"SRST": system reset</summary>
    public const ulong Srst = 0x53525354;
    /// <summary>"DBCN": debug console</summary>
    public const ulong Dbcn = 0x4442434E;
}

/// <summary>Standard SBI error codes, returned in a0 (SBI spec v2.0, "Binary Encoding").</summary>
public static class SbiError
{
    public const long Success = 0;
    public const long Failed = -1;
    public const long NotSupported = -2;
    public const long InvalidParam = -3;
    public const long Denied = -4;
    public const long InvalidAddress = -5;
    public const long AlreadyAvailable = -6;
    public const long AlreadyStarted = -7;
    public const long AlreadyStopped = -8;
}

/// <summary>HSM hart states (SBI spec v2.0, HSM extension), as sbi_hart_get_status returns them.</summary>
public enum HsmState
{
    Started = 0,
    Stopped = 1,
    StartPending = 2,
    StopPending = 3,
    Suspended = 4,
    SuspendPending = 5,
    ResumePending = 6,
}

/// <summary>SRST reset types and reasons (SBI spec v2.0, SRST extension).</summary>
public static class SbiReset
{
    public const ulong Shutdown = 0, ColdReboot = 1, WarmReboot = 2;
    public const ulong NoReason = 0, SystemFailure = 1;
}

/// <summary>HSM suspend types (SBI spec v2.0): only the two default ones are implemented.</summary>
public static class SbiSuspend
{
    public const ulong DefaultRetentive = 0, DefaultNonRetentive = 0x8000_0000;
}

/// <summary>The value an SBI function returns in a0 (error) and a1 (value).</summary>
public readonly record struct SbiRet(long Error, ulong Value = 0)
{
    public static SbiRet Ok(ulong value = 0) => new(SbiError.Success, value);
    public static SbiRet Fail(long error) => new(error);

    /// <summary>The call does not return to the instruction after the ECALL (hart stopped, resumed elsewhere,
    /// system reset): a0/a1 are left as the hart's new state has them.</summary>
    public static readonly SbiRet NoReturn = new(long.MinValue);

    public bool IsNoReturn => Error == long.MinValue;
}
