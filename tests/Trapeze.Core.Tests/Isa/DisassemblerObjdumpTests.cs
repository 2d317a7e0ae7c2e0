using Trapeze.Core.Isa;
using Xunit.Abstractions;

namespace Trapeze.Core.Tests.Isa;

/// <summary>
/// Compares <see cref="Disassembler.Format"/> with <c>objdump -M no-aliases</c> (ABI register names) text:
/// same mnemonic and same operand tokens, where a number may be written in decimal or hex, and objdump's
/// "target &lt;symbol+offset&gt;" is just the target address.
/// </summary>
public sealed class DisassemblerObjdumpTests(ITestOutputHelper output)
{
    private void CompareAll(IReadOnlyList<ObjdumpLine> lines)
    {
        var report = new System.Text.StringBuilder();
        int compared = 0, different = 0;
        foreach (var line in lines)
        {
            if (line.Length is not (2 or 4) || line.IsUnknown) continue;
            var d = Decoder.Decode((uint)line.Raw);
            if (d.Op == Op.Illegal) continue; // legality is the decoder tests' business
            compared++;
            string ours = Disassembler.Format(d, line.Address);
            if (!Same(ours, line, d) && different++ < 40)
                report.AppendLine($"{line.Address:x}: {line.Raw:x}  objdump '{line.Mnemonic} {line.Operands}'  ours '{ours}'");
        }
        output.WriteLine($"{compared} instructions compared");
        Assert.True(different == 0, $"{different} of {compared} disassemble differently:\n{report}");
    }

    private static bool Same(string ours, ObjdumpLine theirs, in DecodedInsn d)
    {
        int space = ours.IndexOf(' ');
        string mnemonic = space < 0 ? ours : ours[..space];
        string[] mine = space < 0 ? [] : ours[(space + 1)..].Split(", ");
        string[] other = theirs.Operands.Length == 0 ? [] : theirs.Operands.Split(',');
        if (mnemonic != theirs.Mnemonic || mine.Length != other.Length) return false;
        for (int i = 0; i < mine.Length; i++)
        {
            bool same = i == 1 && theirs.Mnemonic.StartsWith("csrr", StringComparison.Ordinal)
                ? SameCsr(mine[i], other[i], (int)d.Imm)
                : SameToken(mine[i], other[i], theirs.Mnemonic);
            if (!same) return false;
        }
        return true;
    }

    /// <summary>Either side may name the CSR or give its number (objdump knows CSRs we do not, and follows the
    /// privileged spec version in the ELF attributes); a name must be objdump's name for that number.</summary>
    private static bool SameCsr(string mine, string theirs, int number)
    {
        bool Means(string token) => ObjdumpOracle.TryNumber(token, out long n)
            ? n == number
            : ObjdumpOracle.Instance.IsCsrName(token, number);
        return Means(mine) && Means(theirs);
    }

    private static bool SameToken(string mine, string theirs, string mnemonic)
    {
        if (mine == theirs) return true;
        // A branch or jump target: "1012 <.text+0x1012>" in an ELF listing.
        int angle = theirs.IndexOf(" <", StringComparison.Ordinal);
        if (angle > 0) theirs = "0x" + theirs[..angle];
        if (mnemonic == "fence" && theirs == "unknown") theirs = "0";
        if (ObjdumpOracle.TryNumber(mine, out long a) && ObjdumpOracle.TryNumber(theirs, out long b)) return a == b;
        // Memory operands: "-2048(sp)"; the offset is decimal on both sides, the register by name.
        return mine == theirs;
    }

    [RequiresBinutilsFact]
    public void EveryTableEntryDisassemblesLikeObjdump() =>
        CompareAll(GnuBinutils.DisassembleElf(GnuBinutils.Assemble(Rv64gcSource.Build()), "no-aliases"));

    [RequiresBinutilsFact]
    public void WholeCompressedSpaceDisassemblesLikeObjdump()
    {
        var image = new byte[65536 / 4 * 3 * 2];
        int n = 0;
        for (int v = 0; v < 65536; v++)
        {
            if ((v & 3) == 3) continue;
            image[n++] = (byte)v;
            image[n++] = (byte)(v >> 8);
        }
        CompareAll(GnuBinutils.DisassembleFlat(image, "no-aliases"));
    }

    [RequiresBinutilsFact(DecoderObjdumpTests.OpenSbi)]
    public void OpenSbiFirmwareDisassemblesLikeObjdump() =>
        CompareAll(GnuBinutils.DisassembleElf(DecoderObjdumpTests.OpenSbi, "no-aliases"));

    [RequiresBinutilsFact(DecoderObjdumpTests.UBoot)]
    public void UBootDisassemblesLikeObjdump() =>
        CompareAll(GnuBinutils.DisassembleElf(DecoderObjdumpTests.UBoot, "no-aliases"));
}
