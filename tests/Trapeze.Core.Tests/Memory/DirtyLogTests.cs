using Trapeze.Core.Cpu;
using Trapeze.Core.Memory;
using Trapeze.Core.Mmu;

namespace Trapeze.Core.Tests.Memory;

/// <summary>Dirty logging: each way RAM is written marks its page, and a collector racing running harts
/// misses no store.</summary>
public sealed unsafe class DirtyLogTests
{
    private const ulong RamBase = 0x8000_0000;
    private const ulong RamSize = 4UL << 20;
    private const ulong Data = RamBase + 0x10_0000;

    private sealed class Rig : IDisposable
    {
        public readonly Bus Bus = new();
        public readonly GuestRam Ram = new("dram", RamBase, RamSize);
        public readonly GuestMemory Memory;
        public readonly MachineClock Clock = new();
        public readonly Hart[] Harts;
        public readonly DirtyLog Log;

        public Rig(int harts = 1)
        {
            Bus.AddMemory(Ram, isDram: true);
            Memory = new GuestMemory(Bus);
            Harts = new Hart[harts];
            for (int i = 0; i < harts; i++)
            {
                Harts[i] = new Hart(i, Bus, Clock);
                Harts[i].Reset(RamBase);
            }
            Log = new DirtyLog(Ram, Harts);
        }

        public Hart Hart => Harts[0];

        public ulong[] Collect()
        {
            var bitmap = Log.NewBitmap();
            Log.Collect(bitmap);
            return bitmap;
        }

        public bool Dirty(ulong[] bitmap, ulong pa)
        {
            ulong page = Ram.PageOf(pa);
            return (bitmap[page >> 6] & (1UL << (int)(page & 63))) != 0;
        }

        public List<ulong> DirtyPages(ulong[] bitmap)
        {
            var pages = new List<ulong>();
            DirtyBitmap.ForEach(bitmap, Ram.PageCount, p => pages.Add(RamBase + (p << 12)));
            return pages;
        }

        public void Dispose()
        {
            foreach (var h in Harts) h.Dispose();
            Ram.Dispose();
        }
    }

    [Fact]
    public void NothingIsMarkedWhileLoggingIsOff()
    {
        using var r = new Rig();
        Assert.True(r.Hart.Mmu.Store64(Data, 1));
        Assert.True(r.Memory.TryWriteU64(Data + 0x1000, 2));
        Assert.False(r.Ram.IsDirty(r.Ram.PageOf(Data)));
        r.Log.Start();
        Assert.Empty(r.DirtyPages(r.Collect()));
    }

    [Fact]
    public void FastStoresMarkWhenTheWriteEntryIsMadeAndAgainAfterEachCollection()
    {
        using var r = new Rig();
        // An entry made before logging started must not survive the start.
        Assert.True(r.Hart.Mmu.Store64(Data, 1));
        r.Log.Start();
        // The hart is not executing, so the start did not wait for it: it empties its write TLB before it
        // executes again. These stores are made straight through its MMU, so let it do that first.
        r.Hart.Step(0);
        Assert.True(r.Hart.Mmu.Store64(Data + 8, 2));
        Assert.Equal([Data], r.DirtyPages(r.Collect()));
        // Nothing written since: an empty set.
        Assert.Empty(r.DirtyPages(r.Collect()));
        // The collection emptied the write TLB: the old entry's page is marked again by the next store.
        r.Hart.Step(0);
        Assert.True(r.Hart.Mmu.Store32(Data + 16, 3));
        Assert.True(r.Hart.Mmu.Store8(Data + 0x2000, 4));
        Assert.Equal([Data, Data + 0x2000], r.DirtyPages(r.Collect()));
    }

    [Fact]
    public void SlowPathStoresMark()
    {
        using var r = new Rig();
        r.Log.Start();
        // Misaligned, across a page boundary: both pages.
        Assert.True(r.Hart.Mmu.Store64(Data + 0x0ffc, 0x1122334455667788));
        // A page holding code goes through the slow path on every store.
        r.Hart.Mmu.MarkCode(r.Ram, Data + 0x3000);
        Assert.True(r.Hart.Mmu.Store64(Data + 0x3000, 5));
        // A write-watched page likewise.
        r.Bus.SetWriteWatch(Data + 0x5000, true);
        r.Hart.Mmu.SyncWatches();
        Assert.True(r.Hart.Mmu.Store16(Data + 0x5002, 6));
        Assert.Equal([Data, Data + 0x1000, Data + 0x3000, Data + 0x5000], r.DirtyPages(r.Collect()));
    }

    [Fact]
    public void AtomicsMarkWithAndWithoutAnExistingWriteEntry()
    {
        using var r = new Rig();
        r.Log.Start();
        // Entry already there and its mark already taken (raw take, no flush): the AMO itself must mark.
        r.Hart.Step(0);
        Assert.True(r.Hart.Mmu.Store64(Data, 0));
        r.Ram.TakeDirty(r.Log.NewBitmap());
        RunProgram(r, [Asm.AmoaddD(5, 11, 10)], a0: Data, a1: 1);
        Assert.Equal(1UL, ReadU64(r, Data));
        Assert.Equal([Data], r.DirtyPages(r.Collect()));

        // LR/SC on a page with no entry.
        RunProgram(r, [Asm.LrD(6, 10), Asm.ScD(7, 11, 10)], a0: Data + 0x4000, a1: 42);
        Assert.Equal(0UL, r.Hart.State->X[7]);
        Assert.Equal(42UL, ReadU64(r, Data + 0x4000));
        Assert.Equal([Data + 0x4000], r.DirtyPages(r.Collect()));
    }

    [Fact]
    public void PageWalkerAccessedAndDirtyUpdatesMarkThePageTable()
    {
        using var r = new Rig();
        // Sv39: root at Data, level-1 table at Data+0x1000, level-0 at Data+0x2000, leaf mapping va 0x4000_0000
        // to Data+0x8000 read/write, A and D clear.
        ulong root = Data, l1 = Data + 0x1000, l0 = Data + 0x2000, target = Data + 0x8000;
        const ulong va = 0x4000_0000;
        WriteU64(r, root + 8 * ((va >> 30) & 0x1ff), (l1 >> 12) << 10 | 1);
        WriteU64(r, l1 + 8 * ((va >> 21) & 0x1ff), (l0 >> 12) << 10 | 1);
        WriteU64(r, l0 + 8 * ((va >> 12) & 0x1ff), (target >> 12) << 10 | 0x7); // V R W
        HartState* s = r.Hart.State;
        s->Satp = 8UL << 60 | root >> 12;
        s->Priv = Privilege.Supervisor;
        // PMP: one TOR entry over everything, RWX, so S-mode may access memory.
        s->PmpAddr[0] = ulong.MaxValue >> 10;
        s->PmpCfg[0] = 0x0f;
        r.Hart.Mmu.UpdateContext();
        r.Hart.Mmu.FlushAll();
        r.Log.Start();
        r.Hart.Step(0);

        Assert.True(r.Hart.Mmu.Load64(va, out _));
        Assert.Equal([l0], r.DirtyPages(r.Collect()));
        r.Hart.Step(0);
        Assert.True(r.Hart.Mmu.Store64(va, 9));
        // D set in the leaf (its page), and the store's own page.
        Assert.Equal([l0, target], r.DirtyPages(r.Collect()));
        Assert.Equal(0xc7UL, ReadU64(r, l0 + 8 * ((va >> 12) & 0x1ff)) & 0xff);
    }

    [Fact]
    public void DeviceAndLoaderWritesMark()
    {
        using var r = new Rig();
        r.Log.Start();
        Assert.True(r.Memory.TryWrite(Data + 0x0ff0, new byte[0x20]));          // crosses into the next page
        Assert.True(r.Memory.TryWriteU16Release(Data + 0x3000, 7));
        Assert.True(r.Memory.TryLoad(Data + 0x5000, [1, 2, 3]));
        Assert.True(r.Memory.TryGetSpan(Data + 0x7000, 16, forWrite: true, out var span));
        span.Fill(0xaa);
        r.Memory.NoteWritten(Data + 0x7000, 16);
        Assert.True(r.Memory.TryRead(Data + 0x9000, new byte[8]));               // reads mark nothing
        Assert.Equal([Data, Data + 0x1000, Data + 0x3000, Data + 0x5000, Data + 0x7000], r.DirtyPages(r.Collect()));
    }

    [Fact]
    public void ClearingTheRegionMarksEveryPage()
    {
        using var r = new Rig();
        r.Log.Start();
        r.Ram.Clear();
        Assert.Equal((long)r.Ram.PageCount, DirtyBitmap.Count(r.Collect()));
    }

    /// <summary>
    /// Harts run a store loop (random pages, a shared page stored to by all, and AMOs) on their own threads
    /// while a collector repeatedly collects and copies the dirty pages into a shadow, as pre-copy migration
    /// does. After the harts stop and a last collection, the shadow must equal RAM: a store after a
    /// collection that the next collection missed would leave the shadow behind.
    /// </summary>
    [Theory]
    [InlineData(1, 300)]
    [InlineData(3, 300)]
    public void ACollectorRacingRunningHartsMissesNoStore(int harts, int rounds)
    {
        using var r = new Rig(harts);
        const int pages = 256;
        uint[] program = StoreLoop();
        for (int i = 0; i < program.Length; i++) WriteU32(r, RamBase + 4 * (ulong)i, program[i]);
        for (int i = 0; i < harts; i++)
        {
            HartState* s = r.Harts[i].State;
            s->X[10] = Data;                         // a0: data area
            s->X[11] = pages - 1;                    // a1: page mask
            s->X[12] = 0x9e3779b97f4a7c15UL * (ulong)(i + 1); // a2: xorshift state
            s->X[13] = 1;                            // a3: counter
            s->X[14] = (ulong)i * 8;                 // a4: this hart's word in each page
        }

        r.Log.Start();
        byte[] shadow = r.Ram.AsSpan(0, (int)RamSize).ToArray();
        var threads = r.Harts.Select(h => new Thread(h.Run) { IsBackground = true }).ToArray();
        foreach (var t in threads) t.Start();
        var bitmap = r.Log.NewBitmap();
        var random = new Random(1);
        long collected = 0;
        for (int round = 0; round < rounds; round++)
        {
            collected += r.Log.Collect(bitmap);
            CopyPages(r.Ram, bitmap, shadow);
            if (random.Next(4) == 0) Thread.Sleep(random.Next(2));
            else Thread.SpinWait(random.Next(20_000));
        }
        foreach (var h in r.Harts) h.RequestStop();
        foreach (var t in threads) t.Join();
        r.Log.Collect(bitmap);
        CopyPages(r.Ram, bitmap, shadow);

        foreach (var h in r.Harts) Assert.True(h.State->X[13] > 10_000, $"hart {h.HartId} made only {h.State->X[13]} stores");
        Assert.True(collected > rounds, $"only {collected} pages collected in {rounds} rounds");
        var ram = r.Ram.AsSpan(0, (int)RamSize);
        for (int p = 0; p < (int)(RamSize >> 12); p++)
        {
            if (!ram.Slice(p << 12, 4096).SequenceEqual(shadow.AsSpan(p << 12, 4096)))
                Assert.Fail($"page 0x{RamBase + ((ulong)p << 12):x} changed after its last collection without being marked");
        }
    }

    private static void CopyPages(GuestRam ram, ulong[] bitmap, byte[] shadow) =>
        DirtyBitmap.ForEach(bitmap, ram.PageCount, p => ram.AsSpan(p << 12, 4096).CopyTo(shadow.AsSpan((int)(p << 12), 4096)));

    /// <summary>
    /// loop: xorshift a2; t0 = a0 + ((a2 >> 20) &amp; a1) &lt;&lt; 12 + a4; sd a3, 0(t0); sd a3, 64(a0 + a4) (the shared
    /// first page); amoadd.d on page 1; a3++; j loop.
    /// </summary>
    private static uint[] StoreLoop() =>
    [
        Asm.Slli(5, 12, 13), Asm.Xor(12, 12, 5),
        Asm.Srli(5, 12, 7), Asm.Xor(12, 12, 5),
        Asm.Slli(5, 12, 17), Asm.Xor(12, 12, 5),
        Asm.Srli(5, 12, 20), Asm.And(5, 5, 11), Asm.Slli(5, 5, 12), Asm.Add(5, 5, 10), Asm.Add(5, 5, 14),
        Asm.Sd(13, 5, 0),
        Asm.Add(6, 10, 14), Asm.Sd(13, 6, 64),
        Asm.Lui(7, 1), Asm.Add(7, 7, 10), Asm.AmoaddD(0, 13, 7),
        Asm.Addi(13, 13, 1),
        Asm.Jal(0, -4 * 18),
    ];

    private static void RunProgram(Rig r, uint[] insns, ulong a0, ulong a1)
    {
        // Code at the base of RAM, ending in an ECALL that traps to itself; the hart runs that one block.
        ulong code = RamBase;
        for (int i = 0; i < insns.Length; i++) WriteU32(r, code + 4 * (ulong)i, insns[i]);
        WriteU32(r, code + 4 * (ulong)insns.Length, Asm.Ecall());
        r.Ram.InvalidateCode(r.Ram.PageOf(code));
        HartState* s = r.Hart.State;
        s->Pc = code;
        s->X[10] = a0;
        s->X[11] = a1;
        s->Mtvec = code + 4 * (ulong)insns.Length;
        r.Hart.Step(1);
    }

    private static ulong ReadU64(Rig r, ulong pa) => r.Memory.TryReadU64(pa, out ulong v) ? v : throw new InvalidOperationException();

    /// <summary>Set-up writes that must not count as the writes under test: straight into the host view.</summary>
    private static void WriteU64(Rig r, ulong pa, ulong v) => BitConverter.TryWriteBytes(r.Ram.AsSpan(pa - RamBase, 8), v);

    private static void WriteU32(Rig r, ulong pa, uint v) => BitConverter.TryWriteBytes(r.Ram.AsSpan(pa - RamBase, 4), v);

    /// <summary>The few encodings these tests need (Unpriv. spec chapter 34).</summary>
    private static class Asm
    {
        private static uint R(uint f7, int rs2, int rs1, uint f3, int rd, uint op) => f7 << 25 | (uint)rs2 << 20 | (uint)rs1 << 15 | f3 << 12 | (uint)rd << 7 | op;
        private static uint I(long imm, int rs1, uint f3, int rd, uint op) => ((uint)imm & 0xfff) << 20 | (uint)rs1 << 15 | f3 << 12 | (uint)rd << 7 | op;
        public static uint Addi(int rd, int rs1, long imm) => I(imm, rs1, 0, rd, 0x13);
        public static uint Slli(int rd, int rs1, int sh) => I(sh, rs1, 1, rd, 0x13);
        public static uint Srli(int rd, int rs1, int sh) => I(sh, rs1, 5, rd, 0x13);
        public static uint Add(int rd, int rs1, int rs2) => R(0, rs2, rs1, 0, rd, 0x33);
        public static uint Xor(int rd, int rs1, int rs2) => R(0, rs2, rs1, 4, rd, 0x33);
        public static uint And(int rd, int rs1, int rs2) => R(0, rs2, rs1, 7, rd, 0x33);
        public static uint Lui(int rd, long imm20) => ((uint)imm20 & 0xfffff) << 12 | (uint)rd << 7 | 0x37;
        public static uint Sd(int rs2, int rs1, long imm) =>
            ((uint)(imm >> 5) & 0x7f) << 25 | (uint)rs2 << 20 | (uint)rs1 << 15 | 3u << 12 | ((uint)imm & 0x1f) << 7 | 0x23;
        public static uint AmoaddD(int rd, int rs2, int rs1) => R(0, rs2, rs1, 3, rd, 0x2f);
        public static uint LrD(int rd, int rs1) => R(0b00010 << 2, 0, rs1, 3, rd, 0x2f);
        public static uint ScD(int rd, int rs2, int rs1) => R(0b00011 << 2, rs2, rs1, 3, rd, 0x2f);
        public static uint Ecall() => 0x00000073;
        public static uint Jal(int rd, long offset)
        {
            uint o = (uint)offset;
            return ((o >> 20) & 1) << 31 | ((o >> 1) & 0x3ff) << 21 | ((o >> 11) & 1) << 20 | ((o >> 12) & 0xff) << 12 | (uint)rd << 7 | 0x6f;
        }
    }
}
