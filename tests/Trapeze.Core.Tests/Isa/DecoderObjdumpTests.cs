using System.Text;
using Xunit.Abstractions;
using Trapeze.Core.Isa;

namespace Trapeze.Core.Tests.Isa;

/// <summary>Differential tests of <see cref="Decoder"/> against GNU objdump.</summary>
public sealed class DecoderObjdumpTests(ITestOutputHelper output)
{
    public const string OpenSbi = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.elf";
    public const string UBoot = "/usr/lib/u-boot/qemu-riscv64_smode/uboot.elf";

    /// <summary>Checks every line, returns the verdicts, fails listing the first disagreements.</summary>
    private List<(ObjdumpLine Line, Verdict Verdict)> CheckAll(IReadOnlyList<ObjdumpLine> lines, int minimum)
    {
        Assert.True(lines.Count >= minimum, $"objdump produced only {lines.Count} instructions");
        var oracle = ObjdumpOracle.Instance;
        var results = new List<(ObjdumpLine, Verdict)>(lines.Count);
        var report = new StringBuilder();
        int different = 0;
        foreach (var line in lines)
        {
            var v = oracle.Check(line);
            results.Add((line, v));
            if (v.Agreement == Agreement.Different && different++ < 40) report.AppendLine($"{line.Address:x}: {v.Reason}");
        }
        int legal = results.Count(r => r.Item2.Agreement == Agreement.Same && r.Item2.Ours.Op != Op.Illegal);
        output.WriteLine($"{lines.Count} encodings: {legal} decoded alike, {results.Count(r => r.Item2.Agreement == Agreement.Same) - legal} illegal in both");
        foreach (var g in results.Where(r => r.Item2.Agreement == Agreement.Tolerated).GroupBy(r => r.Item2.Reason))
            output.WriteLine($"  tolerated ({g.Key}): {g.Count()}");
        Assert.True(different == 0, $"{different} of {lines.Count} encodings disagree with objdump:\n{report}");
        return results;
    }

    [RequiresBinutilsFact]
    public void EveryTableEntryAgreesWithObjdump()
    {
        string obj = GnuBinutils.Assemble(Rv64gcSource.Build());
        var results = CheckAll(GnuBinutils.DisassembleElf(obj), minimum: 3000);

        // The source must really have exercised the whole table, each rounding mode and each ordering.
        var entries = DecodeTable.Entries;
        var seen = new HashSet<ushort>();
        var roundings = new HashSet<(ushort, byte)>();
        foreach (var (_, v) in results)
        {
            if (v.Ours.Op == Op.Illegal) continue;
            seen.Add(v.Ours.Entry);
            var e = entries[v.Ours.Entry];
            if (e.HasRoundingMode || e.Format is InsnFormat.Amo or InsnFormat.Lr) roundings.Add((v.Ours.Entry, v.Ours.Rm));
        }
        var missing = Enumerable.Range(0, entries.Length).Where(i => !seen.Contains((ushort)i)).Select(i => entries[i].Mnemonic).ToList();
        Assert.True(missing.Count == 0, "not covered: " + string.Join(", ", missing));
        for (ushort i = 0; i < entries.Length; i++)
        {
            byte[] wanted = entries[i].HasRoundingMode ? [0, 1, 2, 3, 4, 7]
                : entries[i].Format is InsnFormat.Amo or InsnFormat.Lr ? [0, 1, 2, 3] : [];
            foreach (byte rm in wanted)
                Assert.True(roundings.Contains((i, rm)), $"{entries[i].Mnemonic} not covered with rm/aqrl {rm}");
        }
        // Illegal encodings were in the source too (reserved compressed forms, rm 101/110, ...).
        Assert.True(results.Count(r => r.Verdict.Ours.Op == Op.Illegal) >= 20);
    }

    /// <summary>Instructions of extensions we do not implement, as objdump decodes them when the object says
    /// they are present: each must be illegal in ours, except those that are HINTs of the base ISA.</summary>
    [RequiresBinutilsFact]
    public void OtherExtensionsAreIllegal()
    {
        const string source = """
            .option norelax
            .option arch, +zba, +zbb, +zbc, +zbs, +zbkb, +zbkx, +v, +h, +zicbom, +zicbop, +zicboz, +zihintpause, +zfh, +zkne, +zknd, +zknh, +zksed, +zksh, +svinval
            sh1add a0, a1, a2
            sh3add.uw a0, a1, a2
            add.uw a0, a1, a2
            slli.uw a0, a1, 63
            andn a0, a1, a2
            clz a0, a1
            cpopw a0, a1
            rev8 a0, a1
            rori a0, a1, 63
            zext.h a0, a1
            clmul a0, a1, a2
            bset a0, a1, a2
            bexti a0, a1, 3
            xperm8 a0, a1, a2
            vsetvli a0, a1, e32, m1, ta, ma
            vadd.vv v1, v2, v3
            vle32.v v1, (a0)
            vfadd.vf v1, v2, fa0
            hfence.vvma a0, a1
            hfence.gvma a0, a1
            hlv.w a0, (a1)
            hsv.d a0, (a1)
            cbo.clean (a0)
            cbo.inval (a0)
            cbo.zero (a0)
            flh fa0, 2(a0)
            fsh fa0, 2(a0)
            fadd.h fa0, fa1, fa2
            fcvt.s.h fa0, fa1
            aes64es a0, a1, a2
            aes64ks1i a0, a1, 10
            sha256sig0 a0, a1
            sha512sum1 a0, a1
            sm4ed a0, a1, a2, 1
            sm3p0 a0, a1
            sinval.vma a0, a1
            sfence.w.inval
            hinval.gvma a0, a1
            # HINTs of the base ISA that other extensions name.
            prefetch.i 64(a0)
            prefetch.r -32(a1)
            prefetch.w 0(a1)
            pause
            """;
        var results = CheckAll(GnuBinutils.DisassembleElf(GnuBinutils.Assemble(source)), minimum: 42);
        var oracle = ObjdumpOracle.Instance;
        Assert.True(results.Count(r => !r.Line.IsUnknown && !oracle.OurMnemonics.Contains(r.Line.Mnemonic)) >= 38,
            "objdump should have decoded the extension instructions by name");
        Assert.Equal(4, results.Count(r => r.Verdict.Ours.Op != Op.Illegal));
    }

    /// <summary>All 49152 16-bit encodings (low bits != 11): legality and expansion.</summary>
    [RequiresBinutilsFact]
    public void WholeCompressedSpaceAgreesWithObjdump()
    {
        var image = new byte[65536 / 4 * 3 * 2];
        int n = 0;
        for (int v = 0; v < 65536; v++)
        {
            if ((v & 3) == 3) continue;
            image[n++] = (byte)v;
            image[n++] = (byte)(v >> 8);
        }
        var results = CheckAll(GnuBinutils.DisassembleFlat(image), minimum: 49152);
        Assert.Equal(49152, results.Count);
        // Spot-check that the space really contains both outcomes in plausible proportions.
        int illegal = results.Count(r => r.Verdict.Ours.Op == Op.Illegal);
        Assert.InRange(illegal, 2000, 3000);
    }

    /// <summary>Random 32-bit words: most are table patterns with random free fields, some with a fixed bit
    /// flipped (near misses), some fully random with a 32-bit major opcode.</summary>
    [RequiresBinutilsFact]
    public void RandomWordsAgreeWithObjdump()
    {
        const int count = 300_000;
        var rng = new Random(0x7a9e2e);
        var wide = DecodeTable.Entries.Where(e => !e.Compressed).ToArray();
        var image = new byte[count * 4];
        for (int i = 0; i < count; i++)
        {
            uint w = (uint)rng.NextInt64(1L << 32);
            int kind = rng.Next(8);
            if (kind < 5)
            {
                var e = wide[rng.Next(wide.Length)];
                w = (w & ~e.Mask) | e.Match;
                if (kind >= 3)
                {
                    // Flip one fixed bit above the major opcode so near-miss encodings are well represented.
                    uint fixedBits = e.Mask & ~0x7fu;
                    if (fixedBits != 0)
                    {
                        int bit;
                        do bit = rng.Next(7, 32); while ((fixedBits & (1u << bit)) == 0);
                        w ^= 1u << bit;
                    }
                }
            }
            else
            {
                w |= 3;
            }
            // Keep every word 32 bits long so objdump's stream stays aligned with ours.
            if ((w & 0x1c) == 0x1c) w &= ~0x10u;
            BitConverter.TryWriteBytes(image.AsSpan(i * 4), w);
        }
        var results = CheckAll(GnuBinutils.DisassembleFlat(image), minimum: count);
        Assert.Equal(count, results.Count);
        int illegal = results.Count(r => r.Verdict.Ours.Op == Op.Illegal);
        Assert.InRange(illegal, count / 10, count * 9 / 10);
    }

    [RequiresBinutilsFact(OpenSbi)]
    public void OpenSbiFirmwareAgreesWithObjdump() => CheckAll(GnuBinutils.DisassembleElf(OpenSbi), minimum: 20_000);

    [RequiresBinutilsFact(UBoot)]
    public void UBootAgreesWithObjdump() => CheckAll(GnuBinutils.DisassembleElf(UBoot), minimum: 100_000);
}
