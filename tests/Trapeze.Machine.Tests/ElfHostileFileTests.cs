using Trapeze.Machine.Boot;

namespace Trapeze.Machine.Tests;

/// <summary>Files crafted to break the ELF parser: each must give one precise <see cref="BootImageException"/>.</summary>
public sealed class ElfHostileFileTests
{
    private static string Fails(string name, byte[] bytes) =>
        Assert.Throws<BootImageException>(() => ElfImage.Parse(name, bytes)).Message;

    [Fact]
    public void Every_truncation_of_a_valid_file_is_refused()
    {
        var bytes = ElfFileBuilder.Sample().Build().Bytes;
        ElfImage.Parse("full.elf", bytes);
        for (int length = 0; length < bytes.Length; length++)
        {
            var cut = bytes.AsMemory(0, length);
            var error = Assert.Throws<BootImageException>(() => ElfImage.Parse("cut.elf", cut));
            Assert.StartsWith("cut.elf: ", error.Message);
            Assert.DoesNotContain('\n', error.Message);
            if (length >= 4)
            {
                Assert.Contains("truncated", error.Message);
            }
        }
    }

    [Fact]
    public void Truncated_header_message()
    {
        var bytes = ElfFileBuilder.Sample().Build().Bytes;
        Assert.Equal("k.elf: truncated: ELF header needs 64 bytes, file is 20 bytes", Fails("k.elf", bytes[..20]));
        Assert.Equal("k.elf: not an ELF file (bad magic)", Fails("k.elf", []));
    }

    [Fact]
    public void Bad_magic()
    {
        var bytes = ElfFileBuilder.Sample().Build().Bytes;
        bytes[1] = (byte)'X';
        Assert.Equal("x: not an ELF file (bad magic)", Fails("x", bytes));
    }

    [Fact]
    public void Wrong_class()
    {
        var builder = ElfFileBuilder.Sample();
        builder.ElfClass = 1;
        Assert.Equal("k.elf: not a 64-bit ELF (EI_CLASS 1)", Fails("k.elf", builder.Build().Bytes));
    }

    [Fact]
    public void Wrong_endianness()
    {
        var builder = ElfFileBuilder.Sample();
        builder.ElfData = 2;
        Assert.Equal("k.elf: not a little-endian ELF (EI_DATA 2)", Fails("k.elf", builder.Build().Bytes));
    }

    [Fact]
    public void Wrong_machine()
    {
        var builder = ElfFileBuilder.Sample();
        builder.Machine = 62;
        Assert.Equal("kernel.elf: not a RISC-V ELF (e_machine 62)", Fails("kernel.elf", builder.Build().Bytes));
    }

    [Theory]
    [InlineData(1, "k.elf: not an executable ELF (e_type 1 = ET_REL)")]
    [InlineData(4, "k.elf: not an executable ELF (e_type 4 = ET_CORE)")]
    [InlineData(0, "k.elf: not an executable ELF (e_type 0 = ET_NONE)")]
    [InlineData(0xfe00, "k.elf: not an executable ELF (e_type 65024)")]
    public void Wrong_type(ushort type, string message)
    {
        var builder = ElfFileBuilder.Sample();
        builder.Type = type;
        Assert.Equal(message, Fails("k.elf", builder.Build().Bytes));
    }

    [Fact]
    public void Wrong_versions()
    {
        var bytes = ElfFileBuilder.Sample().Build().Bytes;
        bytes[6] = 0;
        Assert.Equal("k: unsupported ELF version (EI_VERSION 0)", Fails("k", bytes));
        bytes = ElfFileBuilder.Sample().Build().Bytes;
        Poke.U32(bytes, 20, 2);
        Assert.Equal("k: unsupported ELF version (e_version 2)", Fails("k", bytes));
    }

    [Fact]
    public void Insane_header_sizes()
    {
        var bytes = ElfFileBuilder.Sample().Build().Bytes;
        Poke.U16(bytes, 52, 52);
        Assert.Equal("k: bad e_ehsize 52 (expected 64)", Fails("k", bytes));

        bytes = ElfFileBuilder.Sample().Build().Bytes;
        Poke.U16(bytes, 54, 32);
        Assert.Equal("k: bad e_phentsize 32 (expected 56)", Fails("k", bytes));

        bytes = ElfFileBuilder.Sample().Build().Bytes;
        Poke.U16(bytes, 58, 40);
        Assert.Equal("k: bad e_shentsize 40 (expected 64)", Fails("k", bytes));
    }

    [Fact]
    public void Huge_program_header_count_is_refused_before_anything_is_read()
    {
        var bytes = ElfFileBuilder.Sample().Build().Bytes;
        Poke.U16(bytes, 56, 0xffff);
        Assert.Equal("k: too many program headers (e_phnum 65535, at most 1170)", Fails("k", bytes));
        Poke.U16(bytes, 56, 0);
        Assert.Equal("k: no program headers (e_phnum 0)", Fails("k", bytes));
    }

    [Fact]
    public void Program_header_past_end_of_file()
    {
        var builder = ElfFileBuilder.Sample().AddSegment(0x8100_0000, new byte[8], 8);
        var built = builder.Build();
        var bytes = built.Bytes;
        // Move the table so that headers 0 and 1 fit and header 2 is cut by the end of the file.
        ulong phoff = (ulong)bytes.Length - 2 * 56 - 10;
        Poke.U64(bytes, 32, phoff);
        Assert.Equal(
            $"u-boot.elf: truncated: program header 2 extends past end of file (offset 0x{phoff + 112:x}, file is {bytes.Length} bytes)",
            Fails("u-boot.elf", bytes));
    }

    [Theory]
    [InlineData(0xffff_ffff_ffff_ff00UL)]
    [InlineData(0x8000_0000_0000_0000UL)]
    [InlineData(0x7fff_ffffUL)]
    public void Program_header_offset_far_away_does_not_overflow(ulong phoff)
    {
        var bytes = ElfFileBuilder.Sample().Build().Bytes;
        Poke.U64(bytes, 32, phoff);
        Assert.Equal($"k: truncated: program header 0 extends past end of file (offset 0x{phoff:x}, file is {bytes.Length} bytes)",
            Fails("k", bytes));
    }

    [Fact]
    public void Segment_data_past_end_of_file()
    {
        var built = ElfFileBuilder.Sample().Build();
        var bytes = built.Bytes;
        Poke.U64(bytes, Poke.Ph(built, 1, 8), (ulong)bytes.Length - 8);
        Assert.Equal(
            $"k: truncated: program header 1 segment data extends past end of file (offset 0x{bytes.Length - 8:x}, size 0x18, file is {bytes.Length} bytes)",
            Fails("k", bytes));
    }

    [Theory]
    [InlineData(0xffff_ffff_ffff_fff0UL, 0x20UL)]
    [InlineData(0x10UL, 0xffff_ffff_ffff_fff8UL)]
    [InlineData(0x8000_0000_0000_0000UL, 0x8000_0000_0000_0000UL)]
    public void Segment_offset_plus_size_overflow_is_caught(ulong offset, ulong size)
    {
        var built = ElfFileBuilder.Sample().Build();
        var bytes = built.Bytes;
        Poke.U64(bytes, Poke.Ph(built, 1, 8), offset);
        Poke.U64(bytes, Poke.Ph(built, 1, 32), size);
        Poke.U64(bytes, Poke.Ph(built, 1, 40), size);
        Assert.Contains("truncated: program header 1 segment data extends past end of file", Fails("k", bytes));
    }

    [Fact]
    public void File_size_larger_than_memory_size()
    {
        var built = ElfFileBuilder.Sample().Build();
        var bytes = built.Bytes;
        Poke.U64(bytes, Poke.Ph(built, 0, 40), 16);
        Assert.Equal("k: program header 0: p_filesz 0x40 exceeds p_memsz 0x10", Fails("k", bytes));
    }

    [Fact]
    public void Segment_wrapping_the_address_space()
    {
        var builder = new ElfFileBuilder();
        builder.AddSegment(0xffff_ffff_ffff_f000, new byte[16], 0x2000);
        Assert.Equal(
            "k: program header 0: segment at 0xfffffffffffff000 with p_memsz 0x2000 wraps around the end of the address space",
            Fails("k", builder.Build().Bytes));
    }

    [Fact]
    public void Overlapping_segments()
    {
        var builder = new ElfFileBuilder();
        builder.AddSegment(0x8000_0000, new byte[0x100], 0x100);
        builder.AddSegment(0x9000_0000, new byte[0x10], 0x10);
        builder.AddSegment(0x8000_0080, new byte[0x100], 0x100);
        Assert.Equal("k: program headers 0 and 2 overlap: [0x80000000, 0x80000100) and [0x80000080, 0x80000180)",
            Fails("k", builder.Build().Bytes));
    }

    [Fact]
    public void Identical_segments_overlap()
    {
        var builder = new ElfFileBuilder();
        builder.AddSegment(0x8000_0000, new byte[0x10], 0x10);
        builder.AddSegment(0x8000_0000, new byte[0x10], 0x10);
        Assert.Contains("program headers 0 and 1 overlap", Fails("k", builder.Build().Bytes));
    }

    [Fact]
    public void Only_empty_load_segments()
    {
        var builder = new ElfFileBuilder();
        builder.AddSegment(0x8000_0000, [], 0);
        Assert.Equal("k: no loadable segments (no PT_LOAD with p_memsz > 0)", Fails("k", builder.Build().Bytes));
    }

    [Fact]
    public void Section_header_past_end_of_file()
    {
        var built = ElfFileBuilder.Sample().Build();
        var bytes = built.Bytes;
        Poke.U64(bytes, 40, (ulong)bytes.Length - 64 * 2);
        Assert.Equal(
            $"k: truncated: section header 2 extends past end of file (offset 0x{bytes.Length:x}, file is {bytes.Length} bytes)",
            Fails("k", bytes));
        Poke.U64(bytes, 40, ulong.MaxValue);
        Assert.Contains("truncated: section header 0 extends past end of file (offset 0xffffffffffffffff", Fails("k", bytes));
    }

    [Fact]
    public void Section_data_past_end_of_file()
    {
        var built = ElfFileBuilder.Sample().Build();
        var bytes = built.Bytes;
        Poke.U64(bytes, Poke.Sh(built, 1, 32), 0x7fff_ffff_ffff_ffff);
        Assert.Contains("truncated: section 1 extends past end of file", Fails("k", bytes));
    }

    [Fact]
    public void Symbol_table_size_far_beyond_the_file_allocates_nothing()
    {
        var built = ElfFileBuilder.Sample().Build();
        var bytes = built.Bytes;
        Poke.U64(bytes, Poke.Sh(built, built.SymbolTableIndex, 32), 24UL << 40);
        Assert.Contains($"truncated: section {built.SymbolTableIndex} extends past end of file", Fails("k", bytes));
    }

    [Fact]
    public void Section_name_table_index_out_of_range()
    {
        var built = ElfFileBuilder.Sample().Build();
        var bytes = built.Bytes;
        Poke.U16(bytes, 62, (ushort)built.SectionCount);
        Assert.Equal($"k: e_shstrndx {built.SectionCount} out of range (e_shnum {built.SectionCount})", Fails("k", bytes));
        Poke.U16(bytes, 62, 0xffff);
        Assert.Equal("k: extended section numbering (e_shstrndx SHN_XINDEX) is not supported", Fails("k", bytes));
        Poke.U16(bytes, 62, 1);
        Assert.Equal("k: section 1 named by e_shstrndx is not a string table (sh_type 1)", Fails("k", bytes));
    }

    [Fact]
    public void Extended_section_count_is_refused()
    {
        var built = ElfFileBuilder.Sample().Build();
        var bytes = built.Bytes;
        Poke.U16(bytes, 60, 0);
        Assert.Equal($"k: extended section numbering (e_shnum 0, e_shoff 0x{built.SectionHeaderOffset:x}) is not supported",
            Fails("k", bytes));
    }

    [Fact]
    public void Section_name_offset_out_of_range()
    {
        var built = ElfFileBuilder.Sample().Build();
        var bytes = built.Bytes;
        Poke.U32(bytes, Poke.Sh(built, 2, 0), 0x10000);
        Assert.Contains("k: section 2: name offset 0x10000 outside section name table", Fails("k", bytes));
    }

    [Fact]
    public void Symbol_name_offset_out_of_range()
    {
        var built = ElfFileBuilder.Sample().Build();
        var bytes = built.Bytes;
        Poke.U32(bytes, built.SymbolTableOffset + 2 * 24, 0xdead_beef);
        Assert.Equal(
            $"k: symbol 2 in section {built.SymbolTableIndex} (.symtab): name offset 0xdeadbeef outside string table (size 0x{built.StringTableSize:x})",
            Fails("k", bytes));
        Poke.U32(bytes, built.SymbolTableOffset + 2 * 24, (uint)built.StringTableSize);
        Assert.Contains("name offset", Fails("k", bytes));
    }

    [Fact]
    public void String_table_without_final_nul()
    {
        var built = ElfFileBuilder.Sample().Build();
        var bytes = built.Bytes;
        bytes[built.StringTableOffset + built.StringTableSize - 1] = (byte)'x';
        Assert.Equal(
            $"k: section {built.StringTableIndex} (names of section {built.SymbolTableIndex} (.symtab)): string table does not end with NUL",
            Fails("k", bytes));
    }

    [Fact]
    public void Symbol_table_link_problems()
    {
        var built = ElfFileBuilder.Sample().Build();
        int link = Poke.Sh(built, built.SymbolTableIndex, 40);
        var bytes = built.Bytes;
        Poke.U32(bytes, link, 0x1000);
        Assert.Equal($"k: section {built.SymbolTableIndex} (.symtab): sh_link 4096 out of range (e_shnum {built.SectionCount})",
            Fails("k", bytes));
        Poke.U32(bytes, link, 0);
        Assert.Contains("sh_link 0 out of range", Fails("k", bytes));
        Poke.U32(bytes, link, 1);
        Assert.Equal($"k: section {built.SymbolTableIndex} (.symtab): sh_link 1 is not a string table (sh_type 1)", Fails("k", bytes));
    }

    [Fact]
    public void Symbol_table_entry_size_problems()
    {
        var built = ElfFileBuilder.Sample().Build();
        var bytes = built.Bytes;
        Poke.U64(bytes, Poke.Sh(built, built.SymbolTableIndex, 56), 16);
        Assert.Equal($"k: section {built.SymbolTableIndex} (.symtab): bad sh_entsize 16 (expected 24)", Fails("k", bytes));

        bytes = ElfFileBuilder.Sample().Build().Bytes;
        int size = Poke.Sh(built, built.SymbolTableIndex, 32);
        Poke.U64(bytes, size, BitConverter.ToUInt64(bytes, size) - 1);
        Assert.Contains("is not a multiple of 24", Fails("k", bytes));
    }

    [Fact]
    public void Symbol_names_overlapping_far_beyond_the_string_table_are_refused_when_listed()
    {
        // 4000 symbols all named by offsets into one long name: every lookup is fine, but decoding them all
        // would cost far more than the file.
        string longName = new('n', 4000);
        var builder = new ElfFileBuilder().AddSegment(0x8000_0000, new byte[16], 16).AddSymbol(longName, 1);
        for (int i = 0; i < 4000; i++)
        {
            builder.AddSymbol("s", (ulong)i);
        }

        var built = builder.Build();
        var bytes = built.Bytes;
        for (int i = 2; i <= 4001; i++)
        {
            Poke.U32(bytes, built.SymbolTableOffset + i * 24, (uint)(1 + (i % 3000)));
        }

        var elf = ElfImage.Parse("k", bytes);
        Assert.True(elf.TryGetSymbol(longName, out _));
        Assert.Contains("symbol names overlap far beyond the string table", Assert.Throws<BootImageException>(() => elf.GetSymbols()).Message);
    }
}
