using Trapeze.Machine.Boot;

namespace Trapeze.Machine.Tests;

public sealed class ElfImageTests
{
    [Fact]
    public void Parses_segments_entry_and_bounds()
    {
        var built = ElfFileBuilder.Sample().Build();
        var elf = ElfImage.Parse("test.elf", built.Bytes);

        Assert.Equal(ElfFileType.Executable, elf.Type);
        Assert.Equal(0x8000_0000UL, elf.EntryPoint);
        Assert.Equal(0x8000_0000UL, elf.HeaderEntry);
        Assert.Equal(2, elf.Segments.Count);
        Assert.Equal(0x8000_0000UL, elf.Segments[0].Address);
        Assert.Equal(64UL, elf.Segments[0].MemorySize);
        Assert.Equal(0UL, elf.Segments[0].ZeroFillSize);
        Assert.Equal(built.Bytes.AsSpan(built.SegmentDataOffsets[0], 64).ToArray(), elf.Segments[0].Data.ToArray());
        Assert.Equal(0x8000_1000UL, elf.Segments[1].Address);
        Assert.Equal(24, elf.Segments[1].Data.Length);
        Assert.Equal(0x100UL - 24, elf.Segments[1].ZeroFillSize);
        Assert.Equal(0x8000_0000UL, elf.LowAddress);
        Assert.Equal(0x8000_1100UL, elf.HighAddress);
        Assert.Equal(elf.EntryPoint, elf.Plan.EntryPoint);
    }

    [Fact]
    public void Segment_data_is_a_slice_of_the_file_not_a_copy()
    {
        var built = ElfFileBuilder.Sample().Build();
        var elf = ElfImage.Parse("test.elf", built.Bytes);
        built.Bytes[built.SegmentDataOffsets[0]] = 0xEE;
        Assert.Equal(0xEE, elf.Segments[0].Data.Span[0]);
    }

    [Fact]
    public void Shared_object_is_accepted()
    {
        var builder = ElfFileBuilder.Sample();
        builder.Type = 3;
        Assert.Equal(ElfFileType.SharedObject, ElfImage.Parse("pie.elf", builder.Build().Bytes).Type);
    }

    [Fact]
    public void Loads_at_physical_address_and_moves_entry_into_the_executable_segment()
    {
        // Linked to run at 0xffffffff80000000, loaded at 0x80200000 (a vmlinux-like layout).
        var builder = new ElfFileBuilder { Entry = 0xffff_ffff_8000_0040 };
        builder.AddSegment(0x8020_0000, new byte[0x100], 0x100, ElfFileBuilder.PfR | ElfFileBuilder.PfX,
            virtualAddress: 0xffff_ffff_8000_0000);
        var elf = ElfImage.Parse("vmlinux", builder.Build().Bytes);

        Assert.Equal(0x8020_0000UL, elf.Segments[0].Address);
        Assert.Equal(0xffff_ffff_8000_0040UL, elf.HeaderEntry);
        Assert.Equal(0x8020_0040UL, elf.EntryPoint);
    }

    [Fact]
    public void Entry_stays_virtual_when_the_segment_holding_it_is_not_executable()
    {
        var builder = new ElfFileBuilder { Entry = 0x1000_0040 };
        builder.AddSegment(0x8020_0000, new byte[0x100], 0x100, ElfFileBuilder.PfR, virtualAddress: 0x1000_0000);
        Assert.Equal(0x1000_0040UL, ElfImage.Parse("x.elf", builder.Build().Bytes).EntryPoint);
    }

    [Fact]
    public void Entry_stays_virtual_when_it_lies_in_the_zero_fill_tail()
    {
        // QEMU compares against p_filesz, not p_memsz.
        var builder = new ElfFileBuilder { Entry = 0x1000_0080 };
        builder.AddSegment(0x8020_0000, new byte[0x40], 0x100, ElfFileBuilder.PfR | ElfFileBuilder.PfX,
            virtualAddress: 0x1000_0000);
        Assert.Equal(0x1000_0080UL, ElfImage.Parse("x.elf", builder.Build().Bytes).EntryPoint);
    }

    [Fact]
    public void Zero_sized_and_non_load_segments_are_not_loaded_and_do_not_move_the_bounds()
    {
        // Like the RISCV_ATTRIBUTES and empty LOAD headers real toolchains emit at address 0.
        var builder = new ElfFileBuilder();
        builder.AddSegment(0, new byte[8], 0, ElfFileBuilder.PfR, type: 0x7000_0003);
        builder.AddSegment(0x8020_0000, new byte[0x10], 0x10);
        builder.AddSegment(0, [], 0);
        builder.AddSegment(0x9000_0000, new byte[4], 4, type: ElfFileBuilder.PtNote);
        var elf = ElfImage.Parse("x.elf", builder.Build().Bytes);

        Assert.Single(elf.Segments);
        Assert.Equal(0x8020_0000UL, elf.LowAddress);
        Assert.Equal(0x8020_0010UL, elf.HighAddress);
    }

    [Fact]
    public void Zero_fill_tail_overlapping_another_segment_is_cut_to_the_file_bytes()
    {
        // QEMU's rule for ELFs that pack .data at a load address: the first segment's "bss" would cover the
        // second segment, so only its file bytes are loaded.
        var builder = new ElfFileBuilder();
        builder.AddSegment(0x8000_0000, new byte[0x100], 0x2000);
        builder.AddSegment(0x8000_0100, new byte[0x80], 0x80);
        var elf = ElfImage.Parse("x.elf", builder.Build().Bytes);

        Assert.Equal(0x100UL, elf.Segments[0].MemorySize);
        Assert.Equal(0x80UL, elf.Segments[1].MemorySize);
        Assert.Equal(0x8000_0180UL, elf.HighAddress);
    }

    [Fact]
    public void Segments_out_of_address_order_are_fine()
    {
        var builder = new ElfFileBuilder();
        builder.AddSegment(0x8010_0000, new byte[0x10], 0x10);
        builder.AddSegment(0x8000_0000, new byte[0x10], 0x20);
        var elf = ElfImage.Parse("x.elf", builder.Build().Bytes);
        Assert.Equal(0x8000_0000UL, elf.LowAddress);
        Assert.Equal(0x8010_0010UL, elf.HighAddress);
        Assert.Equal(0x8010_0000UL, elf.Segments[0].Address);
    }

    [Fact]
    public void Finds_symbols_in_the_symbol_table()
    {
        var elf = ElfImage.Parse("test.elf", ElfFileBuilder.Sample().Build().Bytes);

        Assert.Equal(ElfSymbolSource.SymbolTable, elf.SymbolSource);
        Assert.True(elf.TryGetSymbol("tohost", out ulong tohost));
        Assert.Equal(0x8000_1000UL, tohost);
        Assert.True(elf.TryGetSymbol("fromhost", out ulong fromhost));
        Assert.Equal(0x8000_1008UL, fromhost);
        Assert.True(elf.TryGetSymbol("local_thing", out ulong local));
        Assert.Equal(0x8000_0010UL, local);
        Assert.False(elf.TryGetSymbol("tohos", out _));
        Assert.False(elf.TryGetSymbol("tohost2", out _));
        Assert.False(elf.TryGetSymbol("", out _));
    }

    [Fact]
    public void Global_definition_wins_over_local_and_undefined_symbols_are_ignored()
    {
        var builder = ElfFileBuilder.Sample()
            .AddSymbol("dup", 0x1111, binding: 0)
            .AddSymbol("dup", 0x2222, binding: 1)
            .AddSymbol("weakling", 0x3333, binding: 2)
            .AddSymbol("undefined", 0x4444, section: 0)
            .AddSymbol("a_section", 0x5555, type: 3)
            .AddSymbol("a_file", 0, binding: 0, type: 4);
        var elf = ElfImage.Parse("x.elf", builder.Build().Bytes);

        Assert.True(elf.TryGetSymbol("dup", out ulong dup));
        Assert.Equal(0x2222UL, dup);
        Assert.True(elf.TryGetSymbol("weakling", out ulong weak));
        Assert.Equal(0x3333UL, weak);
        Assert.False(elf.TryGetSymbol("undefined", out _));
        Assert.False(elf.TryGetSymbol("a_section", out _));
        Assert.False(elf.TryGetSymbol("a_file", out _));
    }

    [Fact]
    public void Long_symbol_names_are_found()
    {
        string name = "very_" + new string('x', 600);
        var elf = ElfImage.Parse("x.elf", ElfFileBuilder.Sample().AddSymbol(name, 0x1234).Build().Bytes);
        Assert.True(elf.TryGetSymbol(name, out ulong value));
        Assert.Equal(0x1234UL, value);
        Assert.False(elf.TryGetSymbol(name + "y", out _));
    }

    [Fact]
    public void Falls_back_to_the_dynamic_symbol_table()
    {
        var builder = ElfFileBuilder.Sample();
        builder.DynamicSymbols = true;
        var elf = ElfImage.Parse("x.elf", builder.Build().Bytes);
        Assert.Equal(ElfSymbolSource.DynamicSymbolTable, elf.SymbolSource);
        Assert.True(elf.TryGetSymbol("tohost", out ulong tohost));
        Assert.Equal(0x8000_1000UL, tohost);
    }

    [Fact]
    public void Prefers_the_symbol_table_over_the_dynamic_one()
    {
        var builder = ElfFileBuilder.Sample();
        builder.ExtraDynamicSymbols.Add(new ElfFileBuilder.Symbol("only_dynamic", 0x42, 1, 1, 1));
        var elf = ElfImage.Parse("x.elf", builder.Build().Bytes);
        Assert.Equal(ElfSymbolSource.SymbolTable, elf.SymbolSource);
        Assert.True(elf.TryGetSymbol("tohost", out _));
        Assert.False(elf.TryGetSymbol("only_dynamic", out _));
    }

    [Fact]
    public void Without_sections_there_are_no_symbols()
    {
        var builder = ElfFileBuilder.Sample();
        builder.WithSections = false;
        var elf = ElfImage.Parse("stripped.elf", builder.Build().Bytes);
        Assert.Equal(ElfSymbolSource.None, elf.SymbolSource);
        Assert.Equal(0, elf.SymbolCount);
        Assert.False(elf.TryGetSymbol("tohost", out _));
        Assert.Empty(elf.GetSymbols());
    }

    [Fact]
    public void Lists_defined_named_symbols()
    {
        var elf = ElfImage.Parse("x.elf", ElfFileBuilder.Sample().AddSymbol("undef", 0, section: 0).Build().Bytes);
        var symbols = elf.GetSymbols();
        Assert.Equal(["_start", "tohost", "fromhost", "local_thing"], symbols.Select(s => s.Name).ToArray());
        var tohost = symbols[1];
        Assert.Equal(0x8000_1000UL, tohost.Value);
        Assert.Equal(ElfSymbol.BindingGlobal, tohost.Binding);
        Assert.Equal((ushort)2, tohost.SectionIndex);
        Assert.Equal(ElfSymbol.BindingLocal, symbols[3].Binding);
    }

    [Fact]
    public void Elf_magic_is_recognised()
    {
        Assert.True(ElfImage.HasElfMagic(ElfFileBuilder.Sample().Build().Bytes));
        Assert.False(ElfImage.HasElfMagic("\u007fEL"u8));
        Assert.False(ElfImage.HasElfMagic("MZ\0\0"u8));
    }
}
