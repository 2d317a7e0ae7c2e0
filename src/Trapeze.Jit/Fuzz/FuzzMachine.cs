using Trapeze.Core.Cpu;
using Trapeze.Core.Memory;
using Trapeze.Core.Mmu;

namespace Trapeze.Jit.Fuzz;

/// <summary>What a program runs under: privilege, paging, and the pending-but-masked interrupt that makes
/// translated loops leave at every back-edge.</summary>
public sealed record FuzzConfig(Privilege Priv, bool Paging, bool MaskedInterrupt, bool PresetAccessed, bool ReadOnlyScratch)
{
    /// <summary>Code pages writable: programs patch instructions ahead of them, then FENCE.I. (Memory
    /// accesses then always go through an address set-up, so no store reaches code by chance.)</summary>
    public bool SelfModifying { get; init; }

    public static FuzzConfig Random(FuzzRandom r)
    {
        int k = r.Next(100);
        var (priv, paging) = k switch
        {
            < 55 => (Privilege.Machine, false),
            < 80 => (Privilege.Supervisor, true),
            < 95 => (Privilege.User, true),
            _ => (Privilege.Supervisor, false),
        };
        return new FuzzConfig(priv, paging, priv != Privilege.User && r.Chance(20), r.Chance(50), r.Chance(30))
        {
            SelfModifying = r.Chance(15),
        };
    }

    public override string ToString() =>
        $"{Priv}{(SelfModifying ? " self-modifying" : "")}{(Paging ? " Sv39" : "")}{(MaskedInterrupt ? " masked-ssip" : "")}{(Paging && !PresetAccessed ? " A/D-clear" : "")}{(Paging && ReadOnlyScratch ? " scratch1-ro" : "")}";
}

/// <summary>One set of inputs: registers, FP state and the seed of the scratch memory's contents.</summary>
public sealed class FuzzVector
{
    public ulong[] X = new ulong[32];
    public ulong[] F = new ulong[32];
    public byte Fflags, Frm;
    public ulong Fs;
    public ulong MemorySeed;

    public static FuzzVector Random(FuzzRandom r)
    {
        var v = new FuzzVector();
        for (int i = 1; i < 32; i++) v.X[i] = EdgeValues.Integer(r);
        if (r.Chance(50)) v.X[2] = FuzzLayout.ScratchBase + (ulong)r.Next(0x1800) * 2;
        for (int i = 0; i < 32; i++) v.F[i] = EdgeValues.Float(r);
        v.Fflags = (byte)r.Next(32);
        v.Frm = (byte)(r.Chance(88) ? r.Next(5) : r.Next(5, 8));
        v.Fs = r.Next(20) switch { 0 => Mstatus.FsOff, 1 => Mstatus.FsInitial, 2 => Mstatus.FsClean, _ => Mstatus.FsDirty };
        v.MemorySeed = r.NextU64();
        return v;
    }
}

/// <summary>
/// A minimal machine for differential runs: 64 KiB of RAM (see <see cref="FuzzLayout"/>) and one hart,
/// interpreting only or translating every block before it first runs (threshold 0, synchronous). No
/// devices and no clock events, so a run depends only on the program and its inputs.
/// </summary>
public sealed unsafe class FuzzMachine : IDisposable
{
    private readonly Bus _bus = new();
    private readonly byte[] _loaded = new byte[FuzzLayout.RamSize];

    private readonly int _threshold;
    private readonly bool _synchronous;

    /// <summary>A machine that interprets only, or translates: by default every block before its first run,
    /// on the hart's thread; or as in production, blocks run <paramref name="threshold"/> times, on the
    /// translator's thread (<paramref name="synchronous"/> false; results must not depend on when
    /// translations arrive).</summary>
    public FuzzMachine(bool translate, int threshold = 0, bool synchronous = true)
    {
        _threshold = threshold;
        _synchronous = synchronous;
        Ram = new GuestRam("fuzz", FuzzLayout.RamBase, FuzzLayout.RamSize);
        _bus.AddMemory(Ram, isDram: true);
        Hart = new Hart(0, _bus, new MachineClock());
        if (translate) RenewTranslator();
    }

    public GuestRam Ram { get; }
    public Hart Hart { get; }
    public Bus Bus => _bus;
    public Translator? Translator { get; private set; }
    public HartState* State => Hart.State;

    /// <summary>Starts with an empty translation cache (bounds the memory held by compiled regions).</summary>
    public void RenewTranslator()
    {
        Translator?.Dispose();
        Translator = new Translator(_threshold, _synchronous);
        Hart.Translator = Translator;
    }

    /// <summary>Writes one 32-bit instruction at guest-physical <paramref name="pa"/> and marks its page
    /// written, as a store from elsewhere would (code decoded or translated from it is not reused).</summary>
    public void WriteInstruction(ulong pa, uint insn)
    {
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(Ram.AsSpan(pa - FuzzLayout.RamBase, 4), insn);
        Ram.InvalidateCode(Ram.PageOf(pa));
    }

    /// <summary>Copies a RAM image in. Pages whose bytes change are marked written, so code decoded or
    /// translated from their old bytes is not reused.</summary>
    public void Load(byte[] image)
    {
        for (ulong page = 0; page < FuzzLayout.RamSize >> 12; page++)
        {
            var src = image.AsSpan((int)(page << 12), 4096);
            var dst = Ram.AsSpan(page << 12, 4096);
            if (src.SequenceEqual(dst)) continue;
            src.CopyTo(dst);
            Ram.InvalidateCode(page);
        }
    }

    public void Start(FuzzConfig config, FuzzVector v, ulong pc)
    {
        Hart.Reset(pc);
        HartState* s = Hart.State;
        for (int i = 1; i < 32; i++) s->X[i] = v.X[i];
        for (int i = 0; i < 32; i++) s->F[i] = v.F[i];
        s->Fflags = v.Fflags;
        s->Frm = v.Frm;
        s->Mstatus = Mstatus.Xlen64 | v.Fs;
        s->Mtvec = FuzzLayout.HandlerBase;
        s->Mscratch = FuzzLayout.SaveArea;
        // PMP: code pages and the handler page locked read/execute (M-mode included); everything else
        // open to S and U.
        s->PmpAddr[0] = Napot(FuzzLayout.CodeBase, FuzzLayout.CodeSize);
        s->PmpCfg[0] = (byte)(Pmp.L | Pmp.R | Pmp.X | (config.SelfModifying ? Pmp.W : 0) | Pmp.ANapot << 3);
        s->PmpAddr[1] = Napot(FuzzLayout.HandlerBase, 0x1000);
        s->PmpCfg[1] = Pmp.L | Pmp.R | Pmp.X | Pmp.ANapot << 3;
        s->PmpAddr[2] = ulong.MaxValue >> 10;
        s->PmpCfg[2] = Pmp.R | Pmp.W | Pmp.X | Pmp.ANapot << 3;
        if (config.Paging) s->Satp = 8UL << 60 | FuzzLayout.PageTableBase >> 12;
        if (config.MaskedInterrupt)
        {
            s->Mideleg = Interrupt.Ssip;
            s->Mie = Interrupt.Ssip;
            s->Mip = Interrupt.Ssip;
        }
        s->Priv = config.Priv;
        Hart.Mmu.FlushAll();
        Hart.Mmu.UpdateContext();
    }

    private static ulong Napot(ulong b, ulong size) => (b >> 2) | ((size >> 3) - 1);

    /// <summary>Runs one block (or translated region) at a time until the program's final WFI has retired.
    /// Returns false when <paramref name="cap"/> instructions retired first.</summary>
    public bool Run(ulong end, ulong cap)
    {
        HartState* s = Hart.State;
        while (s->Pc != end + 4 && s->Wfi == 0)
        {
            if (s->Retired >= cap) return false;
            Hart.Step(1);
        }
        return true;
    }

    public ReadOnlySpan<byte> Memory => Ram.AsSpan(0, (int)FuzzLayout.RamSize);

    public void Dispose()
    {
        Hart.Dispose();
        Translator?.Dispose();
        Ram.Dispose();
    }
}
