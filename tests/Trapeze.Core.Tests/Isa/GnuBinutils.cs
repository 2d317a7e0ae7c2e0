using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Trapeze.Core.Tests.Isa;

/// <summary>A fact skipped when the RISC-V GNU binutils (Debian package binutils-riscv64-unknown-elf) are not
/// installed, or when a file it needs is absent.</summary>
public sealed class RequiresBinutilsFactAttribute : FactAttribute
{
    public RequiresBinutilsFactAttribute(params string[] files)
    {
        if (GnuBinutils.Objdump is null || GnuBinutils.Assembler is null)
        {
            Skip = $"{GnuBinutils.ObjdumpName} / {GnuBinutils.AssemblerName} not found on PATH "
                   + "(install binutils-riscv64-unknown-elf)";
            return;
        }
        foreach (string file in files)
        {
            if (!File.Exists(file))
            {
                Skip = $"{file} is not present";
                return;
            }
        }
    }
}

/// <summary>One line of <c>objdump -d</c>: the address, the encoding (as objdump groups it), its length in
/// bytes, the mnemonic and the operand text.</summary>
public sealed record ObjdumpLine(ulong Address, ulong Raw, int Length, string Mnemonic, string Operands)
{
    /// <summary>objdump's spelling of an encoding it does not recognise (or of data).</summary>
    public bool IsUnknown => Mnemonic.StartsWith('.');

    public override string ToString() => $"{Address:x}: {Raw:x} {Mnemonic} {Operands}";
}

/// <summary>Runs riscv64-unknown-elf-as / -objdump and parses the listing. Results are cached on disk (keyed
/// by a hash of the tool version, the arguments and the input bytes) so that a test run pays for each
/// corpus once, and repeated runs not at all.</summary>
public static partial class GnuBinutils
{
    public const string ObjdumpName = "riscv64-unknown-elf-objdump";
    public const string AssemblerName = "riscv64-unknown-elf-as";

    public static readonly string? Objdump = Find(ObjdumpName);
    public static readonly string? Assembler = Find(AssemblerName);

    private static readonly Lazy<string> Version = new(() => Run(Objdump!, ["--version"], null).Split('\n')[0]);
    private static readonly string CacheDir = Path.Combine(Path.GetTempPath(), "trapeze-objdump-cache");

    private static string? Find(string tool)
    {
        string? path = Environment.GetEnvironmentVariable("PATH");
        if (path is null) return null;
        foreach (string dir in path.Split(Path.PathSeparator))
        {
            string candidate = Path.Combine(dir, tool);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    /// <summary>Disassembles a flat image as RV64GC (objdump's default ISA for a raw binary), numeric
    /// register names, no aliases, starting at address 0.</summary>
    public static IReadOnlyList<ObjdumpLine> DisassembleFlat(ReadOnlySpan<byte> image, string options = "no-aliases,numeric") =>
        Parse(Cached("flat " + options, image.ToArray(), file =>
            Run(Objdump!, ["-D", "-z", "-b", "binary", "-m", "riscv:rv64", "-M", options, file], null)));

    /// <summary>Disassembles the executable sections of an ELF file.</summary>
    public static IReadOnlyList<ObjdumpLine> DisassembleElf(string elfPath, string options = "no-aliases,numeric") =>
        Parse(Cached("elf " + options, File.ReadAllBytes(elfPath), file =>
            Run(Objdump!, ["-d", "-z", "-M", options, file], null)));

    /// <summary>Assembles <paramref name="source"/> for RV64GC and returns the object file's path (cached).</summary>
    public static string Assemble(string source)
    {
        byte[] input = Encoding.UTF8.GetBytes(source);
        return Once(Key("as -march=rv64gc", input), ".o", obj =>
        {
            string src = Scratch(obj, ".s");
            File.WriteAllBytes(src, input);
            try
            {
                Run(Assembler!, ["-march=rv64gc", "-o", obj, src], null);
            }
            finally
            {
                File.Delete(src);
            }
        });
    }

    private static string Key(string what, byte[] input)
    {
        using var sha = SHA256.Create();
        byte[] head = Encoding.UTF8.GetBytes(Version.Value + "\n" + what + "\n");
        sha.TransformBlock(head, 0, head.Length, null, 0);
        sha.TransformFinalBlock(input, 0, input.Length);
        return Convert.ToHexStringLower(sha.Hash!)[..32];
    }

    private static string Cached(string what, byte[] input, Func<string, string> produce)
    {
        string listing = Once(Key(what, input), ".txt", path =>
        {
            string bin = Scratch(path, ".bin");
            File.WriteAllBytes(bin, input);
            try
            {
                File.WriteAllText(path, produce(bin));
            }
            finally
            {
                File.Delete(bin);
            }
        });
        return File.ReadAllText(listing);
    }

    private static readonly ConcurrentDictionary<string, Lazy<string>> Produced = new();

    /// <summary>Returns the cache file for <paramref name="key"/>, producing it once per process (tests run in
    /// parallel and share corpora). <paramref name="produce"/> writes a private scratch path that is then
    /// renamed into place, so another process never sees a half-written file.</summary>
    private static string Once(string key, string extension, Action<string> produce) =>
        Produced.GetOrAdd(key + extension, _ => new Lazy<string>(() =>
        {
            string final = Path.Combine(CacheDir, key + extension);
            if (File.Exists(final)) return final;
            Directory.CreateDirectory(CacheDir);
            string scratch = Scratch(final, extension);
            produce(scratch);
            File.Move(scratch, final, overwrite: true);
            return final;
        })).Value;

    private static string Scratch(string path, string extension) =>
        Path.Combine(Path.GetDirectoryName(path)!, $"{Path.GetFileNameWithoutExtension(path)}.{Guid.NewGuid():N}{extension}");

    private static string Run(string tool, string[] args, string? stdin)
    {
        var info = new ProcessStartInfo(tool)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string arg in args) info.ArgumentList.Add(arg);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"cannot start {tool}");
        if (stdin is not null) process.StandardInput.Write(stdin);
        process.StandardInput.Close();
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(120)))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{tool} did not finish");
        }
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{tool} {string.Join(' ', args)} failed ({process.ExitCode}):\n{stderr.Result}");
        return stdout.Result;
    }

    // "   4c:	1405b52f          	lr.d.aq	x10,(x11)" — address, encoding, mnemonic, operands (tab separated).
    [GeneratedRegex(@"^\s*([0-9a-f]+):\t([0-9a-f]+)\s*\t(\S+)(?:\t(.*))?$")]
    private static partial Regex LineRegex();

    // objdump annotates some operands with the address they form ("addi x14,x14,268 # 80000346 <sym>").
    private static string StripComment(string operands)
    {
        int hash = operands.IndexOf(" #", StringComparison.Ordinal);
        return (hash >= 0 ? operands[..hash] : operands).Trim();
    }

    private static List<ObjdumpLine> Parse(string listing)
    {
        var lines = new List<ObjdumpLine>();
        foreach (string line in listing.Split('\n'))
        {
            var m = LineRegex().Match(line.TrimEnd('\r'));
            if (!m.Success) continue;
            string hex = m.Groups[2].Value;
            lines.Add(new ObjdumpLine(
                ulong.Parse(m.Groups[1].Value, NumberStyles.HexNumber),
                hex.Length <= 16 ? ulong.Parse(hex, NumberStyles.HexNumber) : 0,
                hex.Length / 2,
                m.Groups[3].Value,
                m.Groups[4].Success ? StripComment(m.Groups[4].Value) : ""));
        }
        return lines;
    }
}
