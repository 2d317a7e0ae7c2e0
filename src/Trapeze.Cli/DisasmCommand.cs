using System.Globalization;
using Trapeze.Core.Isa;
using Trapeze.Machine.Boot;

namespace Trapeze.Cli;

/// <summary><c>trapeze disasm FILE</c>: disassembles the loadable segments of an ELF (with symbol labels) or
/// a raw binary, through the same decode table the interpreter uses.</summary>
public static class DisasmCommand
{
    public const string Help = """
        usage: trapeze disasm [options] FILE

          --base ADDR   load address of a raw binary (default 0x80000000)
          --start ADDR  first address to show
          --count N     number of instructions to show (default: all)
        """;

    public static int Execute(string[] args)
    {
        var a = new ArgReader("disasm", args, ["base", "start", "count"], ["help"]);
        if (a.Flag("help")) { HostStreams.Out.Write(Help); return 0; }
        if (a.Positional.Count != 1) throw new UsageException("disasm: expected exactly one file");
        string path = a.Positional[0];
        byte[] bytes;
        try { bytes = File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"cannot read '{path}': {e.Message}");
        }
        ulong start = a.Value("start") is { } st ? ParseAddress("start", st) : 0;
        long count = a.Value("count") is { } c ? ArgReader.ParseInt("count", c, 1, int.MaxValue) : long.MaxValue;

        var labels = new Dictionary<ulong, string>();
        IReadOnlyList<LoadSegment> segments;
        if (ElfImage.HasElfMagic(bytes))
        {
            var elf = ElfImage.Parse(Path.GetFileName(path), bytes);
            segments = elf.Segments;
            foreach (var sym in elf.GetSymbols())
                if (!string.IsNullOrEmpty(sym.Name)) labels.TryAdd(sym.Value, sym.Name);
        }
        else
        {
            ulong b = a.Value("base") is { } bs ? ParseAddress("base", bs) : 0x8000_0000;
            segments = RawImage.CreateLoadPlan(Path.GetFileName(path), bytes, b).Segments;
        }

        var w = new StreamWriter(HostStreams.OpenStdout()) { AutoFlush = false };
        foreach (var seg in segments)
        {
            var data = seg.Data.Span;
            int off = 0;
            while (off + 2 <= data.Length && count > 0)
            {
                ulong pc = seg.Address + (ulong)off;
                ushort low = (ushort)(data[off] | data[off + 1] << 8);
                int len = Decoder.LengthOf(low);
                uint raw = low;
                if (len == 4 && off + 4 <= data.Length) raw |= (uint)(data[off + 2] | data[off + 3] << 8) << 16;
                var d = Decoder.Decode(raw);
                int step = d.Length;
                if (pc >= start)
                {
                    if (labels.TryGetValue(pc, out var label)) w.WriteLine($"\n{pc:x16} <{label}>:");
                    string hex = step == 2 ? $"{raw & 0xffff:x4}    " : $"{raw:x8}";
                    w.WriteLine($"  {pc:x}:\t{hex}\t{Disassembler.Format(d, pc)}");
                    count--;
                }
                off += step;
            }
        }
        w.Flush();
        return 0;
    }

    private static ulong ParseAddress(string option, string text)
    {
        string t = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? text[2..] : text;
        var style = text.Length != t.Length ? NumberStyles.AllowHexSpecifier : NumberStyles.None;
        if (!ulong.TryParse(t, style, CultureInfo.InvariantCulture, out ulong v))
            throw new UsageException($"--{option}: '{text}' is not an address");
        return v;
    }
}
