namespace Trapeze.Core.Mmu;

public enum AccessType : byte
{
    Read = 0,
    Write = 1,
    Fetch = 2,
}
