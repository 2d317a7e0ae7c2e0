using System.Buffers.Binary;
using System.Text;
using Trapeze.Machine.Boot;

namespace Trapeze.Machine.Tests;

/// <summary>A <see cref="FactAttribute"/> that skips itself when a file it needs is not on this machine
/// (xunit 2 has no dynamic skip).</summary>
public sealed class FileFactAttribute : FactAttribute
{
    public FileFactAttribute(params string[] paths)
    {
        foreach (var path in paths)
        {
            if (!File.Exists(path))
            {
                Skip = $"{path} not present on this machine";
                return;
            }
        }
    }
}

/// <summary>Guest RAM over an array, recording refused writes; for <see cref="LoadPlan.LoadInto"/>.</summary>
internal sealed class ArrayPhysicalMemory : IPhysicalMemoryWriter
{
    public ArrayPhysicalMemory(ulong ramBase, int size, byte fill = 0)
    {
        RamBase = ramBase;
        Bytes = new byte[size];
        Array.Fill(Bytes, fill);
    }

    public byte[] Bytes { get; }

    public ulong RamBase { get; }

    public ulong RamSize => (ulong)Bytes.Length;

    public int Writes { get; private set; }

    /// <summary>When set, every write is refused (a board whose memory map has a hole).</summary>
    public bool RefuseWrites { get; set; }

    public bool TryWrite(ulong address, ReadOnlySpan<byte> data)
    {
        if (RefuseWrites || address < RamBase || address - RamBase > RamSize || (ulong)data.Length > RamSize - (address - RamBase))
        {
            return false;
        }

        data.CopyTo(Bytes.AsSpan((int)(address - RamBase)));
        Writes++;
        return true;
    }

    public ReadOnlySpan<byte> At(ulong address, int length) => Bytes.AsSpan((int)(address - RamBase), length);
}

/// <summary>Where <see cref="ElfFileBuilder"/> put each table, for tests that corrupt them.</summary>
internal sealed record BuiltElf(byte[] Bytes, int ProgramHeaderOffset, int SectionHeaderOffset, int SectionCount,
    int SymbolTableIndex, int SymbolTableOffset, int StringTableIndex, int StringTableOffset, int StringTableSize,
    int SectionNamesIndex, int[] SegmentDataOffsets);

/// <summary>Writes small, valid RISC-V ELF64 files: header, program headers, segment data, one PROGBITS section
/// per segment, a symbol table with its string table, section names, and the section header table last (so
/// that cutting the file anywhere cuts something the parser needs).</summary>
internal sealed class ElfFileBuilder
{
    public const uint PtLoad = 1;
    public const uint PtNote = 4;
    public const uint PfX = 1;
    public const uint PfW = 2;
    public const uint PfR = 4;

    public byte ElfClass { get; set; } = 2;

    public byte ElfData { get; set; } = 1;

    public ushort Type { get; set; } = 2;

    public ushort Machine { get; set; } = 243;

    public ulong Entry { get; set; } = 0x8000_0000;

    public bool WithSections { get; set; } = true;

    /// <summary>Write the symbols as SHT_DYNSYM instead of SHT_SYMTAB.</summary>
    public bool DynamicSymbols { get; set; }

    /// <summary>Also write a second table (SHT_DYNSYM) holding these symbols.</summary>
    public List<Symbol> ExtraDynamicSymbols { get; } = [];

    public List<Segment> Segments { get; } = [];

    public List<Symbol> Symbols { get; } = [];

    public ElfFileBuilder AddSegment(ulong physicalAddress, byte[] data, ulong memorySize, uint flags = PfR | PfW | PfX,
        ulong? virtualAddress = null, uint type = PtLoad)
    {
        Segments.Add(new Segment(type, flags, physicalAddress, virtualAddress ?? physicalAddress, data, memorySize));
        return this;
    }

    public ElfFileBuilder AddSymbol(string name, ulong value, byte binding = 1, byte type = 1, ushort section = 1)
    {
        Symbols.Add(new Symbol(name, value, binding, type, section));
        return this;
    }

    /// <summary>The usual small test file: code + data + bss, and a few symbols.</summary>
    public static ElfFileBuilder Sample()
    {
        var code = new byte[64];
        for (int i = 0; i < code.Length; i++)
        {
            code[i] = (byte)(i + 1);
        }

        var data = new byte[24];
        Array.Fill(data, (byte)0x5a);
        return new ElfFileBuilder()
            .AddSegment(0x8000_0000, code, 64, PfR | PfX)
            .AddSegment(0x8000_1000, data, 0x100, PfR | PfW)
            .AddSymbol("_start", 0x8000_0000, type: 2)
            .AddSymbol("tohost", 0x8000_1000, type: 1, section: 2)
            .AddSymbol("fromhost", 0x8000_1008, type: 1, section: 2)
            .AddSymbol("local_thing", 0x8000_0010, binding: 0, type: 2);
    }

    public BuiltElf Build()
    {
        var file = new List<byte>();
        void Align(int n)
        {
            while (file.Count % n != 0)
            {
                file.Add(0);
            }
        }

        file.AddRange(new byte[64]);
        int phoff = file.Count;
        file.AddRange(new byte[Segments.Count * 56]);

        var dataOffsets = new int[Segments.Count];
        for (int i = 0; i < Segments.Count; i++)
        {
            Align(8);
            dataOffsets[i] = file.Count;
            file.AddRange(Segments[i].Data);
        }

        int shoff = 0, shnum = 0, symtabIndex = -1, symtabOffset = 0, strtabIndex = -1, strtabOffset = 0;
        int strtabSize = 0, shstrndx = 0;
        if (WithSections)
        {
            // Sections: 0 null, 1..n one per segment, then the symbol table(s), their strings, section names.
            var names = new List<byte> { 0 };
            int Name(string s)
            {
                int at = names.Count;
                names.AddRange(Encoding.UTF8.GetBytes(s));
                names.Add(0);
                return at;
            }

            var strings = new List<byte> { 0 };
            byte[] SymbolBytes(List<Symbol> symbols)
            {
                var bytes = new byte[(symbols.Count + 1) * 24];
                for (int i = 0; i < symbols.Count; i++)
                {
                    var s = symbols[i];
                    int nameAt = strings.Count;
                    strings.AddRange(Encoding.UTF8.GetBytes(s.Name));
                    strings.Add(0);
                    var e = bytes.AsSpan((i + 1) * 24, 24);
                    BinaryPrimitives.WriteUInt32LittleEndian(e, (uint)nameAt);
                    e[4] = (byte)((s.Binding << 4) | s.Type);
                    BinaryPrimitives.WriteUInt16LittleEndian(e[6..], s.Section);
                    BinaryPrimitives.WriteUInt64LittleEndian(e[8..], s.Value);
                    BinaryPrimitives.WriteUInt64LittleEndian(e[16..], 8);
                }

                return bytes;
            }

            var sections = new List<SectionHeader> { default };
            for (int i = 0; i < Segments.Count; i++)
            {
                var seg = Segments[i];
                sections.Add(new SectionHeader(Name($".seg{i}"), 1, 6, seg.PhysicalAddress, (ulong)dataOffsets[i],
                    (ulong)seg.Data.Length, 0, 0, 8, 0));
            }

            var symbolBytes = SymbolBytes(Symbols);
            var extraBytes = ExtraDynamicSymbols.Count > 0 ? SymbolBytes(ExtraDynamicSymbols) : null;

            Align(8);
            symtabOffset = file.Count;
            file.AddRange(symbolBytes);
            int extraOffset = 0;
            if (extraBytes is not null)
            {
                Align(8);
                extraOffset = file.Count;
                file.AddRange(extraBytes);
            }

            strtabOffset = file.Count;
            strtabSize = strings.Count;
            file.AddRange(strings);

            symtabIndex = sections.Count;
            strtabIndex = symtabIndex + (extraBytes is null ? 1 : 2);
            sections.Add(new SectionHeader(Name(DynamicSymbols ? ".dynsym" : ".symtab"), DynamicSymbols ? 11u : 2u, 0, 0,
                (ulong)symtabOffset, (ulong)symbolBytes.Length, (uint)strtabIndex, 1, 8, 24));
            if (extraBytes is not null)
            {
                sections.Add(new SectionHeader(Name(".dynsym"), 11, 0, 0, (ulong)extraOffset, (ulong)extraBytes.Length,
                    (uint)strtabIndex, 1, 8, 24));
            }

            sections.Add(new SectionHeader(Name(".strtab"), 3, 0, 0, (ulong)strtabOffset, (ulong)strtabSize, 0, 0, 1, 0));
            shstrndx = sections.Count;
            int shstrtabName = Name(".shstrtab");
            int namesOffset = file.Count;
            sections.Add(new SectionHeader(shstrtabName, 3, 0, 0, (ulong)namesOffset, (ulong)names.Count, 0, 0, 1, 0));
            file.AddRange(names);

            Align(8);
            shoff = file.Count;
            shnum = sections.Count;
            foreach (var sh in sections)
            {
                var e = new byte[64];
                BinaryPrimitives.WriteUInt32LittleEndian(e, (uint)sh.Name);
                BinaryPrimitives.WriteUInt32LittleEndian(e.AsSpan(4), sh.Type);
                BinaryPrimitives.WriteUInt64LittleEndian(e.AsSpan(8), sh.Flags);
                BinaryPrimitives.WriteUInt64LittleEndian(e.AsSpan(16), sh.Address);
                BinaryPrimitives.WriteUInt64LittleEndian(e.AsSpan(24), sh.Offset);
                BinaryPrimitives.WriteUInt64LittleEndian(e.AsSpan(32), sh.Size);
                BinaryPrimitives.WriteUInt32LittleEndian(e.AsSpan(40), sh.Link);
                BinaryPrimitives.WriteUInt32LittleEndian(e.AsSpan(44), sh.Info);
                BinaryPrimitives.WriteUInt64LittleEndian(e.AsSpan(48), sh.Align);
                BinaryPrimitives.WriteUInt64LittleEndian(e.AsSpan(56), sh.EntrySize);
                file.AddRange(e);
            }
        }

        var bytes = file.ToArray();
        var h = bytes.AsSpan();
        h[0] = 0x7f;
        h[1] = (byte)'E';
        h[2] = (byte)'L';
        h[3] = (byte)'F';
        h[4] = ElfClass;
        h[5] = ElfData;
        h[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(h[16..], Type);
        BinaryPrimitives.WriteUInt16LittleEndian(h[18..], Machine);
        BinaryPrimitives.WriteUInt32LittleEndian(h[20..], 1);
        BinaryPrimitives.WriteUInt64LittleEndian(h[24..], Entry);
        BinaryPrimitives.WriteUInt64LittleEndian(h[32..], (ulong)phoff);
        BinaryPrimitives.WriteUInt64LittleEndian(h[40..], (ulong)shoff);
        BinaryPrimitives.WriteUInt32LittleEndian(h[48..], 5);
        BinaryPrimitives.WriteUInt16LittleEndian(h[52..], 64);
        BinaryPrimitives.WriteUInt16LittleEndian(h[54..], 56);
        BinaryPrimitives.WriteUInt16LittleEndian(h[56..], (ushort)Segments.Count);
        BinaryPrimitives.WriteUInt16LittleEndian(h[58..], 64);
        BinaryPrimitives.WriteUInt16LittleEndian(h[60..], (ushort)shnum);
        BinaryPrimitives.WriteUInt16LittleEndian(h[62..], (ushort)shstrndx);

        for (int i = 0; i < Segments.Count; i++)
        {
            var s = Segments[i];
            var p = h.Slice(phoff + i * 56, 56);
            BinaryPrimitives.WriteUInt32LittleEndian(p, s.Type);
            BinaryPrimitives.WriteUInt32LittleEndian(p[4..], s.Flags);
            BinaryPrimitives.WriteUInt64LittleEndian(p[8..], (ulong)dataOffsets[i]);
            BinaryPrimitives.WriteUInt64LittleEndian(p[16..], s.VirtualAddress);
            BinaryPrimitives.WriteUInt64LittleEndian(p[24..], s.PhysicalAddress);
            BinaryPrimitives.WriteUInt64LittleEndian(p[32..], (ulong)s.Data.Length);
            BinaryPrimitives.WriteUInt64LittleEndian(p[40..], s.MemorySize);
            BinaryPrimitives.WriteUInt64LittleEndian(p[48..], 8);
        }

        return new BuiltElf(bytes, phoff, shoff, shnum, symtabIndex, symtabOffset, strtabIndex, strtabOffset,
            strtabSize, shstrndx, dataOffsets);
    }

    public sealed record Segment(uint Type, uint Flags, ulong PhysicalAddress, ulong VirtualAddress, byte[] Data,
        ulong MemorySize);

    public sealed record Symbol(string Name, ulong Value, byte Binding, byte Type, ushort Section);

    private readonly record struct SectionHeader(int Name, uint Type, ulong Flags, ulong Address, ulong Offset,
        ulong Size, uint Link, uint Info, ulong Align, ulong EntrySize);
}

/// <summary>Little-endian pokes into a file image.</summary>
internal static class Poke
{
    public static void U16(byte[] b, int offset, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(b.AsSpan(offset), v);

    public static void U32(byte[] b, int offset, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(b.AsSpan(offset), v);

    public static void U64(byte[] b, int offset, ulong v) => BinaryPrimitives.WriteUInt64LittleEndian(b.AsSpan(offset), v);

    /// <summary>Offset of field <paramref name="field"/> of program header <paramref name="index"/>.</summary>
    public static int Ph(BuiltElf elf, int index, int field) => elf.ProgramHeaderOffset + index * 56 + field;

    /// <summary>Offset of field <paramref name="field"/> of section header <paramref name="index"/>.</summary>
    public static int Sh(BuiltElf elf, int index, int field) => elf.SectionHeaderOffset + index * 64 + field;
}
