using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Trapeze.Machine.Boot;

namespace Trapeze.Machine.Tests;

/// <summary>Debian's own OpenSBI and U-Boot images (skipped when the packages are not installed), checked for
/// facts that hold across package versions and, where binutils is installed, against <c>readelf</c>.</summary>
public sealed partial class RealFirmwareImageTests
{
    private const string OpenSbiElf = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.elf";
    private const string OpenSbiBin = "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin";
    private const string UBootElf = "/usr/lib/u-boot/qemu-riscv64_smode/uboot.elf";
    private const string UBootBin = "/usr/lib/u-boot/qemu-riscv64_smode/u-boot.bin";
    private const string Readelf = "/usr/bin/readelf";

    [FileFact(OpenSbiElf)]
    public void OpenSbi_fw_dynamic_loads_at_ram_base_below_2_MiB()
    {
        var elf = ElfImage.Parse("fw_dynamic.elf", File.ReadAllBytes(OpenSbiElf));

        Assert.Equal(ElfFileType.Executable, elf.Type);
        Assert.Equal(0x8000_0000UL, elf.EntryPoint);
        Assert.Equal(0x8000_0000UL, elf.LowAddress);
        Assert.InRange(elf.HighAddress, 0x8000_1000UL, 0x8020_0000UL);
        Assert.All(elf.Segments, s => Assert.True(s.ZeroFillSize < s.MemorySize));
        // Stripped: only the dynamic symbols a relocatable firmware keeps.
        Assert.Equal(ElfSymbolSource.DynamicSymbolTable, elf.SymbolSource);
        var symbols = elf.GetSymbols();
        Assert.NotEmpty(symbols);
        foreach (var symbol in symbols)
        {
            Assert.True(elf.TryGetSymbol(symbol.Name, out _), symbol.Name);
        }

        Assert.Equal(0x8020_0000UL, BootLayout.KernelStartAddress(elf.HighAddress));
    }

    [FileFact(OpenSbiElf, OpenSbiBin)]
    public void OpenSbi_elf_loads_the_same_bytes_as_the_flat_binary_and_zeroes_its_bss()
    {
        var elf = ElfImage.Parse("fw_dynamic.elf", File.ReadAllBytes(OpenSbiElf));
        var bin = File.ReadAllBytes(OpenSbiBin);
        var fromElf = new ArrayPhysicalMemory(0x8000_0000, 1 << 20, fill: 0xAA);
        var fromBin = new ArrayPhysicalMemory(0x8000_0000, 1 << 20, fill: 0xAA);

        elf.Plan.LoadInto(fromElf);
        RawImage.CreateLoadPlan("fw_dynamic.bin", bin, 0x8000_0000).LoadInto(fromBin);

        Assert.True(fromElf.At(0x8000_0000, bin.Length).SequenceEqual(fromBin.At(0x8000_0000, bin.Length)));
        int bssLength = (int)(elf.HighAddress - 0x8000_0000) - bin.Length;
        Assert.True(bssLength > 0);
        Assert.DoesNotContain(fromElf.At(0x8000_0000 + (ulong)bin.Length, bssLength).ToArray(), b => b != 0);
        Assert.Equal(0xAA, fromElf.At(elf.HighAddress, 1)[0]);
    }

    [FileFact(UBootElf)]
    public void UBoot_smode_loads_at_2_MiB_and_its_start_symbol_is_the_entry()
    {
        var elf = ElfImage.Parse("uboot.elf", File.ReadAllBytes(UBootElf));

        Assert.Equal(0x8020_0000UL, elf.EntryPoint);
        Assert.Equal(0x8020_0000UL, elf.LowAddress);
        Assert.True(elf.TryGetSymbol("_start", out ulong start));
        Assert.Equal(elf.EntryPoint, start);
    }

    [FileFact(UBootBin, OpenSbiElf)]
    public void UBoot_binary_as_kernel_after_opensbi_lands_where_qemu_puts_it()
    {
        var firmware = ElfImage.Parse("fw_dynamic.elf", File.ReadAllBytes(OpenSbiElf));
        var layout = BootLayout.Compute(new BootLayoutRequest
        {
            RamBase = 0x8000_0000,
            RamSize = 128UL << 20,
            FirmwareStart = firmware.LowAddress,
            FirmwareEnd = firmware.HighAddress,
            Kernel = KernelImage.Identify("u-boot.bin", File.ReadAllBytes(UBootBin)),
            FdtSize = 0x2000,
        });

        Assert.Equal(0x8020_0000UL, layout.KernelEntry);
        Assert.Equal(0x87e0_0000UL, layout.FdtAddress);
    }

    [FileFact(OpenSbiElf, Readelf)]
    public void OpenSbi_matches_readelf() => MatchesReadelf(OpenSbiElf);

    [FileFact(UBootElf, Readelf)]
    public void UBoot_matches_readelf() => MatchesReadelf(UBootElf);

    private static void MatchesReadelf(string path)
    {
        var elf = ElfImage.Parse(Path.GetFileName(path), File.ReadAllBytes(path));
        string headers = RunReadelf("-W", "-h", "-l", path);

        ulong entry = ulong.Parse(EntryLine().Match(headers).Groups[1].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture);
        Assert.Equal(entry, elf.HeaderEntry);

        var loads = LoadLine().Matches(headers)
            .Select(m => (PhysicalAddress: Hex(m.Groups[3].Value), FileSize: Hex(m.Groups[4].Value), MemorySize: Hex(m.Groups[5].Value)))
            .Where(l => l.MemorySize != 0)
            .ToList();
        Assert.Equal(loads.Count, elf.Segments.Count);
        for (int i = 0; i < loads.Count; i++)
        {
            Assert.Equal(loads[i].PhysicalAddress, elf.Segments[i].Address);
            Assert.Equal(loads[i].FileSize, (ulong)elf.Segments[i].Data.Length);
            Assert.Equal(loads[i].MemorySize, elf.Segments[i].MemorySize);
        }

        // readelf -s prints .symtab when there is one and .dynsym otherwise, like our choice.
        string table = RunReadelf("-W", elf.SymbolSource == ElfSymbolSource.SymbolTable ? "--syms" : "--dyn-syms", path);
        var expected = SymbolLine().Matches(table)
            .Where(m => m.Groups[4].Value != "UND" && m.Groups[2].Value is not ("SECTION" or "FILE"))
            .Select(m => (Name: m.Groups[5].Value, Value: Hex(m.Groups[1].Value), Binding: m.Groups[3].Value))
            .ToList();
        Assert.NotEmpty(expected);
        var actual = elf.GetSymbols();
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Name, actual[i].Name);
            Assert.Equal(expected[i].Value, actual[i].Value);
        }

        foreach (var symbol in expected.Where(s => s.Binding != "LOCAL"))
        {
            Assert.True(elf.TryGetSymbol(symbol.Name, out ulong value), symbol.Name);
            if (expected.Count(s => s.Name == symbol.Name && s.Binding != "LOCAL") == 1)
            {
                Assert.Equal(symbol.Value, value);
            }
        }
    }

    private static ulong Hex(string s) =>
        ulong.Parse(s.StartsWith("0x", StringComparison.Ordinal) ? s[2..] : s, NumberStyles.HexNumber, CultureInfo.InvariantCulture);

    private static string RunReadelf(params string[] arguments)
    {
        var start = new ProcessStartInfo(Readelf) { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
        return output;
    }

    [GeneratedRegex(@"Entry point address:\s+0x([0-9a-f]+)")]
    private static partial Regex EntryLine();

    [GeneratedRegex(@"^\s+LOAD\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)", RegexOptions.Multiline)]
    private static partial Regex LoadLine();

    [GeneratedRegex(@"^\s*\d+:\s+([0-9a-f]+)\s+\d+\s+(\w+)\s+(\w+)\s+\w+\s+(\w+)\s+(\S+)\s*$", RegexOptions.Multiline)]
    private static partial Regex SymbolLine();
}
