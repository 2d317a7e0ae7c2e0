using Trapeze.Core.Cpu;

namespace Trapeze.Jit.Fuzz;

/// <summary>Builds the RAM image of one run: scratch contents, the trap handler, the program, page tables.</summary>
public static class FuzzImage
{
    /// <summary>
    /// The M-mode trap handler: logs mcause, mepc and mtval, then resumes after the trapping instruction
    /// (its length read from its first halfword), or at the program's end after an instruction fetch fault.
    /// It uses only t0-t2, spilled to the save area mscratch points to.
    /// </summary>
    public static readonly uint[] Handler = BuildHandler();

    private static uint[] BuildHandler()
    {
        const int t0 = 5, t1 = 6, t2 = 7;
        static uint Sd(int rs2, int rs1, int imm) => Encode.R((uint)(imm >> 5), rs2, rs1, 3, imm & 31, 0x23);
        static uint Ld(int rd, int rs1, int imm) => Encode.I(imm, rs1, 3, rd, 0x03);
        static uint Csrr(int rd, int csr) => Encode.I(csr, 0, 2, rd, 0x73);
        static uint Csrw(int csr, int rs1) => Encode.I(csr, rs1, 1, 0, 0x73);
        var h = new List<uint>
        {
            Encode.I(0x340, t0, 1, t0, 0x73),          // 0  csrrw t0, mscratch, t0
            Sd(t1, t0, FuzzLayout.SaveT1),             // 1
            Sd(t2, t0, FuzzLayout.SaveT2),             // 2
            Ld(t1, t0, FuzzLayout.TrapCount),          // 3
            Encode.Addi(t2, t1, 1),                    // 4
            Sd(t2, t0, FuzzLayout.TrapCount),          // 5
            Encode.I(FuzzLayout.TrapLogEntries - 1, t1, 7, t1, 0x13), // 6 andi t1, t1, 31
            Encode.Slli(t2, t1, 4),                    // 7
            Encode.Slli(t1, t1, 3),                    // 8
            Encode.R(0, t2, t1, 0, t1, 0x33),          // 9  add t1, t1, t2
            Encode.R(0, t0, t1, 0, t1, 0x33),          // 10 add t1, t1, t0
            Csrr(t2, 0x342), Sd(t2, t1, FuzzLayout.TrapLog),      // 11, 12
            Csrr(t2, 0x341), Sd(t2, t1, FuzzLayout.TrapLog + 8),  // 13, 14
            Csrr(t2, 0x343), Sd(t2, t1, FuzzLayout.TrapLog + 16), // 15, 16
            Csrr(t2, 0x342),                           // 17
            Encode.Branch(0, t2, 0, (33 - 18) * 4),    // 18 beqz t2, fetch
            Encode.Addi(t1, t2, -1),                   // 19
            Encode.Branch(0, t1, 0, (33 - 20) * 4),    // 20 beqz t1, fetch
            Encode.Addi(t1, t2, -12),                  // 21
            Encode.Branch(0, t1, 0, (33 - 22) * 4),    // 22 beqz t1, fetch
            Csrr(t1, 0x341),                           // 23
            Encode.I(0, t1, 5, t2, 0x03),              // 24 lhu t2, 0(t1)
            Encode.I(3, t2, 7, t2, 0x13),              // 25 andi t2, t2, 3
            Encode.Addi(t1, t1, 2),                    // 26
            Encode.Addi(t2, t2, -3),                   // 27
            Encode.Branch(1, t2, 0, 8),                // 28 bnez t2, 30
            Encode.Addi(t1, t1, 2),                    // 29
            Csrw(0x341, t1),                           // 30
            Encode.Jal(0, (35 - 31) * 4),              // 31 j restore
            0x00000013,                                // 32 nop
            Ld(t1, t0, FuzzLayout.ResumeAddress),      // 33 fetch:
            Csrw(0x341, t1),                           // 34
            Ld(t1, t0, FuzzLayout.SaveT1),             // 35 restore:
            Ld(t2, t0, FuzzLayout.SaveT2),             // 36
            Encode.I(0x340, t0, 1, t0, 0x73),          // 37
            0x30200073,                                // 38 mret
        };
        return [.. h];
    }

    public static byte[] Build(FuzzConfig config, FuzzVector v, FuzzProgram program, byte[] code, ulong end)
    {
        var image = new byte[FuzzLayout.RamSize];
        var r = new FuzzRandom(v.MemorySeed);
        // Scratch: random bytes with edge values (integer and FP) at aligned places.
        for (int i = 0; i < (int)FuzzLayout.ScratchSize; i += 8)
        {
            ulong value = r.Next(4) switch { 0 => EdgeValues.Integer(r), 1 => EdgeValues.Float(r), _ => r.NextU64() };
            BitConverter.TryWriteBytes(image.AsSpan(i), value);
        }
        Put(image, FuzzLayout.HandlerBase, Handler);
        BitConverter.TryWriteBytes(image.AsSpan((int)(FuzzLayout.SaveArea - FuzzLayout.RamBase) + FuzzLayout.ResumeAddress), end);
        code.CopyTo(image.AsSpan((int)(program.Base - FuzzLayout.RamBase)));
        if (config.Paging) PageTables(image, config);
        return image;
    }

    private static void Put(byte[] image, ulong address, uint[] words)
    {
        for (int i = 0; i < words.Length; i++)
            BitConverter.TryWriteBytes(image.AsSpan((int)(address - FuzzLayout.RamBase) + 4 * i), words[i]);
    }

    /// <summary>Sv39, identity: scratch page 0 read/write, page 1 read-only or read/write, code pages
    /// read/execute; the handler, save area and page tables unmapped (only M-mode touches them).</summary>
    private static void PageTables(byte[] image, FuzzConfig config)
    {
        const ulong V = 1, R = 2, W = 4, X = 8, U = 16, A = 64, D = 128;
        ulong root = FuzzLayout.PageTableBase, mid = root + 0x1000, leaf = root + 0x2000;
        void Pte(ulong table, int index, ulong value) =>
            BitConverter.TryWriteBytes(image.AsSpan((int)(table - FuzzLayout.RamBase) + 8 * index), value);
        Pte(root, (int)((FuzzLayout.RamBase >> 30) & 511), (mid >> 12) << 10 | V);
        Pte(mid, (int)((FuzzLayout.RamBase >> 21) & 511), (leaf >> 12) << 10 | V);
        ulong user = config.Priv == Privilege.User ? U : 0;
        ulong ad = config.PresetAccessed ? A | D : 0;
        ulong Leaf(ulong pa, ulong perms) => (pa >> 12) << 10 | perms | V | user | ad;
        int first = (int)((FuzzLayout.RamBase >> 12) & 511);
        Pte(leaf, first, Leaf(FuzzLayout.ScratchBase, R | W));
        Pte(leaf, first + 1, Leaf(FuzzLayout.ScratchBase + 0x1000, config.ReadOnlyScratch ? R : R | W));
        for (ulong p = 0; p < FuzzLayout.CodeSize >> 12; p++)
            Pte(leaf, first + 4 + (int)p, Leaf(FuzzLayout.CodeBase + (p << 12), R | X | (config.SelfModifying ? W : 0)));
    }
}
