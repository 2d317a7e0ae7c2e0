namespace Trapeze.Core.Cpu;

/// <summary>Privilege levels (Priv. spec 1.2, Table 1.1).</summary>
public enum Privilege : byte
{
    User = 0,
    Supervisor = 1,
    Machine = 3,
}
