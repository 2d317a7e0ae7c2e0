namespace Trapeze.Core.Cpu;

/// <summary>CSR numbers (Priv. spec 2.2, Table 2.2-2.5).</summary>
public static class Csr
{
    public const ushort Fflags = 0x001, Frm = 0x002, Fcsr = 0x003;
    public const ushort Cycle = 0xc00, Time = 0xc01, Instret = 0xc02, HpmCounter3 = 0xc03, HpmCounter31 = 0xc1f;
    public const ushort Sstatus = 0x100, Sie = 0x104, Stvec = 0x105, Scounteren = 0x106, Senvcfg = 0x10a;
    public const ushort Sscratch = 0x140, Sepc = 0x141, Scause = 0x142, Stval = 0x143, Sip = 0x144;
    public const ushort Stimecmp = 0x14d, Satp = 0x180;
    public const ushort Mvendorid = 0xf11, Marchid = 0xf12, Mimpid = 0xf13, Mhartid = 0xf14, Mconfigptr = 0xf15;
    public const ushort Mstatus = 0x300, Misa = 0x301, Medeleg = 0x302, Mideleg = 0x303, Mie = 0x304, Mtvec = 0x305;
    public const ushort Mcounteren = 0x306, Menvcfg = 0x30a, Mcountinhibit = 0x320;
    public const ushort Mhpmevent3 = 0x323, Mhpmevent31 = 0x33f;
    public const ushort Mscratch = 0x340, Mepc = 0x341, Mcause = 0x342, Mtval = 0x343, Mip = 0x344;
    public const ushort Pmpcfg0 = 0x3a0, Pmpcfg15 = 0x3af, Pmpaddr0 = 0x3b0, Pmpaddr63 = 0x3ef;
    public const ushort Mcycle = 0xb00, Minstret = 0xb02, Mhpmcounter3 = 0xb03, Mhpmcounter31 = 0xb1f;

    private static readonly Dictionary<ushort, string> Names = BuildNames();

    private static Dictionary<ushort, string> BuildNames()
    {
        var n = new Dictionary<ushort, string>
        {
            [Fflags] = "fflags", [Frm] = "frm", [Fcsr] = "fcsr", [Cycle] = "cycle", [Time] = "time", [Instret] = "instret",
            [Sstatus] = "sstatus", [Sie] = "sie", [Stvec] = "stvec", [Scounteren] = "scounteren", [Senvcfg] = "senvcfg",
            [Sscratch] = "sscratch", [Sepc] = "sepc", [Scause] = "scause", [Stval] = "stval", [Sip] = "sip",
            [Stimecmp] = "stimecmp", [Satp] = "satp", [Mvendorid] = "mvendorid", [Marchid] = "marchid",
            [Mimpid] = "mimpid", [Mhartid] = "mhartid", [Mconfigptr] = "mconfigptr", [Mstatus] = "mstatus",
            [Misa] = "misa", [Medeleg] = "medeleg", [Mideleg] = "mideleg", [Mie] = "mie", [Mtvec] = "mtvec",
            [Mcounteren] = "mcounteren", [Menvcfg] = "menvcfg", [Mcountinhibit] = "mcountinhibit",
            [Mscratch] = "mscratch", [Mepc] = "mepc", [Mcause] = "mcause", [Mtval] = "mtval", [Mip] = "mip",
            [Mcycle] = "mcycle", [Minstret] = "minstret",
        };
        for (int i = 3; i <= 31; i++)
        {
            n[(ushort)(HpmCounter3 + i - 3)] = $"hpmcounter{i}";
            n[(ushort)(Mhpmcounter3 + i - 3)] = $"mhpmcounter{i}";
            n[(ushort)(Mhpmevent3 + i - 3)] = $"mhpmevent{i}";
        }
        for (int i = 0; i < 16; i++) n[(ushort)(Pmpcfg0 + i)] = $"pmpcfg{i}";
        for (int i = 0; i < 64; i++) n[(ushort)(Pmpaddr0 + i)] = $"pmpaddr{i}";
        return n;
    }

    public static string Name(ushort csr) => Names.TryGetValue(csr, out var s) ? s : $"0x{csr:x3}";
}
