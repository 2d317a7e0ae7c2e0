using System.Buffers.Binary;
using System.Text;

namespace Trapeze.Machine.Boot;

/// <summary>
/// A RISC-V ELF64 executable (firmware, bootloader, bare-metal test, vmlinux) parsed into a load plan.
/// The file is untrusted: every offset and size read from it is checked against the file length with
/// overflow-safe arithmetic before use, and nothing is allocated in proportion to a value read from it
/// before that value has been checked against the file length.
/// </summary>
/// <remarks>
/// Loading follows QEMU's <c>load_elf</c> (include/hw/elf_ops.h), which is what the <c>virt</c> board uses for
/// <c>-bios</c> and <c>-kernel</c> ELFs (hw/riscv/boot.c passes no address translation for RISC-V):
/// <list type="bullet">
/// <item>each <c>PT_LOAD</c> goes to its physical address <c>p_paddr</c>, not <c>p_vaddr</c>;</item>
/// <item>the entry point is <c>e_entry</c>, moved by <c>p_paddr - p_vaddr</c> when it falls inside the file
///   bytes of an executable (<c>PF_X</c>) segment whose two addresses differ;</item>
/// <item>when a segment's zero-fill tail (<c>p_filesz..p_memsz</c>) would overlap another <c>PT_LOAD</c>, the
///   segment is cut to <c>p_filesz</c> (ELFs whose <c>.data</c> has a separate load address);</item>
/// <item>segments with <c>p_memsz == 0</c> are not loaded. QEMU 7.2 still counts their address in
///   <c>lowaddr</c>/<c>highaddr</c>, so an empty <c>PT_LOAD</c> at 0 would make an ELF kernel's entry 0 (a 2024
///   upstream fix was reverted); here they count for nothing.</item>
/// </list>
/// Stricter than QEMU: overlapping segments, <c>p_filesz &gt; p_memsz</c>, address wrap and broken section or
/// symbol tables are errors here, and a non-RISC-V ELF is refused rather than loaded as a raw binary.
/// </remarks>
public sealed class ElfImage
{
    public const ushort MachineRiscV = 243;
    public const int HeaderSize = 64;
    public const int ProgramHeaderSize = 56;
    public const int SectionHeaderSize = 64;
    public const int SymbolSize = 24;

    /// <summary>Linux's binfmt_elf refuses program header tables larger than 64 KiB; the same bound here.</summary>
    public const int MaxProgramHeaders = 65536 / ProgramHeaderSize;

    private const uint PtLoad = 1;
    private const uint PfX = 1;
    private const uint ShtNull = 0;
    private const uint ShtSymtab = 2;
    private const uint ShtStrtab = 3;
    private const uint ShtNobits = 8;
    private const uint ShtDynsym = 11;
    private const ushort ShnUndef = 0;
    private const ushort ShnXindex = 0xffff;
    private const byte SttSection = 3;
    private const byte SttFile = 4;

    private readonly ReadOnlyMemory<byte> _file;
    private readonly int _symbolsOffset;
    private readonly int _symbolCount;
    private readonly int _stringsOffset;
    private readonly int _stringsSize;

    private ElfImage(string displayName, ReadOnlyMemory<byte> file, ElfFileType type, uint flags, ulong headerEntry,
        ulong entryPoint, LoadPlan plan, ElfSymbolSource symbolSource, int symbolsOffset, int symbolCount,
        int stringsOffset, int stringsSize)
    {
        DisplayName = displayName;
        _file = file;
        Type = type;
        Flags = flags;
        HeaderEntry = headerEntry;
        EntryPoint = entryPoint;
        Plan = plan;
        SymbolSource = symbolSource;
        _symbolsOffset = symbolsOffset;
        _symbolCount = symbolCount;
        _stringsOffset = stringsOffset;
        _stringsSize = stringsSize;
    }

    public string DisplayName { get; }

    public ElfFileType Type { get; }

    /// <summary><c>e_flags</c>: RVC and float ABI bits.</summary>
    public uint Flags { get; }

    /// <summary><c>e_entry</c> as written in the file (a virtual address).</summary>
    public ulong HeaderEntry { get; }

    /// <summary>Physical entry point, as QEMU's <c>load_elf</c> reports it (see remarks).</summary>
    public ulong EntryPoint { get; }

    /// <summary>The loadable segments at their physical addresses, entry <see cref="EntryPoint"/>.</summary>
    public LoadPlan Plan { get; }

    public IReadOnlyList<LoadSegment> Segments => Plan.Segments;

    /// <summary>QEMU's <c>lowaddr</c>: what the virt board uses as the kernel entry for an ELF <c>-kernel</c>.</summary>
    public ulong LowAddress => Plan.LowAddress;

    /// <summary>QEMU's <c>highaddr</c>: the firmware end from which the kernel address is computed.</summary>
    public ulong HighAddress => Plan.HighAddress;

    /// <summary>Which symbol table <see cref="TryGetSymbol"/> searches.</summary>
    public ElfSymbolSource SymbolSource { get; }

    /// <summary>Entries in that table, the null symbol 0 included.</summary>
    public int SymbolCount => _symbolCount;

    /// <summary>True when the file starts with the ELF magic <c>\x7fELF</c>.</summary>
    public static bool HasElfMagic(ReadOnlySpan<byte> file) =>
        file.Length >= 4 && file[0] == 0x7f && file[1] == (byte)'E' && file[2] == (byte)'L' && file[3] == (byte)'F';

    /// <summary>
    /// Looks up a defined symbol by exact name (e.g. <c>tohost</c>) in <c>.symtab</c>, or <c>.dynsym</c> when the
    /// file has no <c>.symtab</c>. A global or weak definition wins over a local one. Allocation-free linear scan.
    /// </summary>
    public bool TryGetSymbol(string name, out ulong address)
    {
        ArgumentNullException.ThrowIfNull(name);
        address = 0;
        if (_symbolCount == 0 || name.Length == 0)
        {
            return false;
        }

        int byteCount = Encoding.UTF8.GetByteCount(name) + 1;
        Span<byte> needle = byteCount <= 256 ? stackalloc byte[byteCount] : new byte[byteCount];
        Encoding.UTF8.GetBytes(name, needle);
        needle[^1] = 0;

        ReadOnlySpan<byte> file = _file.Span;
        ReadOnlySpan<byte> strings = file.Slice(_stringsOffset, _stringsSize);
        bool foundLocal = false;
        ulong localValue = 0;
        for (int i = 1; i < _symbolCount; i++)
        {
            ReadOnlySpan<byte> symbol = file.Slice(_symbolsOffset + i * SymbolSize, SymbolSize);
            if (!IsNamedDefinition(symbol))
            {
                continue;
            }

            uint nameOffset = BinaryPrimitives.ReadUInt32LittleEndian(symbol);
            if (!strings[(int)nameOffset..].StartsWith(needle))
            {
                continue;
            }

            ulong value = BinaryPrimitives.ReadUInt64LittleEndian(symbol[8..]);
            byte binding = (byte)(symbol[4] >> 4);
            if (binding != ElfSymbol.BindingLocal)
            {
                address = value;
                return true;
            }

            if (!foundLocal)
            {
                foundLocal = true;
                localValue = value;
            }
        }

        address = localValue;
        return foundLocal;
    }

    /// <summary>
    /// All defined, named symbols (for diagnostics and symbolization). Unlike <see cref="TryGetSymbol"/> this
    /// allocates a string per symbol; a table whose names overlap far beyond the size of its string table is
    /// refused rather than decoded.
    /// </summary>
    public IReadOnlyList<ElfSymbol> GetSymbols()
    {
        var result = new List<ElfSymbol>();
        if (_symbolCount == 0)
        {
            return result;
        }

        ReadOnlySpan<byte> file = _file.Span;
        ReadOnlySpan<byte> strings = file.Slice(_stringsOffset, _stringsSize);
        long budget = 8L * _stringsSize + 1024 * 1024;
        for (int i = 1; i < _symbolCount; i++)
        {
            ReadOnlySpan<byte> symbol = file.Slice(_symbolsOffset + i * SymbolSize, SymbolSize);
            if (!IsNamedDefinition(symbol))
            {
                continue;
            }

            ReadOnlySpan<byte> name = strings[(int)BinaryPrimitives.ReadUInt32LittleEndian(symbol)..];
            name = name[..name.IndexOf((byte)0)];
            budget -= name.Length;
            if (budget < 0)
            {
                throw BootImageException.For(DisplayName,
                    $"symbol names overlap far beyond the string table ({BootFormat.Hex((ulong)_stringsSize)} bytes)");
            }

            result.Add(new ElfSymbol(
                Encoding.UTF8.GetString(name),
                BinaryPrimitives.ReadUInt64LittleEndian(symbol[8..]),
                BinaryPrimitives.ReadUInt64LittleEndian(symbol[16..]),
                (byte)(symbol[4] & 0xf),
                (byte)(symbol[4] >> 4),
                BinaryPrimitives.ReadUInt16LittleEndian(symbol[6..])));
        }

        return result;
    }

    private static bool IsNamedDefinition(ReadOnlySpan<byte> symbol)
    {
        byte type = (byte)(symbol[4] & 0xf);
        return BinaryPrimitives.ReadUInt32LittleEndian(symbol) != 0
            && BinaryPrimitives.ReadUInt16LittleEndian(symbol[6..]) != ShnUndef
            && type != SttSection
            && type != SttFile;
    }

    /// <summary>Parses and validates <paramref name="file"/>; throws <see cref="BootImageException"/> with a
    /// one-line reason prefixed by <paramref name="displayName"/> for anything unusable.</summary>
    public static ElfImage Parse(string displayName, ReadOnlyMemory<byte> file)
    {
        ArgumentNullException.ThrowIfNull(displayName);
        var parser = new Parser(displayName, file.Span);
        return parser.Run(file);
    }

    /// <summary>One pass over the file; a ref struct so that it can hold the span.</summary>
    private readonly ref struct Parser
    {
        private readonly string _name;
        private readonly ReadOnlySpan<byte> _f;

        public Parser(string name, ReadOnlySpan<byte> file)
        {
            _name = name;
            _f = file;
        }

        private int Length => _f.Length;

        private BootImageException Fail(string reason) => BootImageException.For(_name, reason);

        private ushort U16(int offset) => BinaryPrimitives.ReadUInt16LittleEndian(_f[offset..]);

        private uint U32(int offset) => BinaryPrimitives.ReadUInt32LittleEndian(_f[offset..]);

        private ulong U64(int offset) => BinaryPrimitives.ReadUInt64LittleEndian(_f[offset..]);

        public ElfImage Run(ReadOnlyMemory<byte> memory)
        {
            ReadOnlySpan<byte> magic = [0x7f, (byte)'E', (byte)'L', (byte)'F'];
            if (!_f[..Math.Min(Length, 4)].SequenceEqual(magic[..Math.Min(Length, 4)]) || Length == 0)
            {
                throw Fail("not an ELF file (bad magic)");
            }

            if (Length < HeaderSize)
            {
                throw Fail($"truncated: ELF header needs {HeaderSize} bytes, file is {Length} bytes");
            }

            if (_f[4] != 2)
            {
                throw Fail($"not a 64-bit ELF (EI_CLASS {_f[4]})");
            }

            if (_f[5] != 1)
            {
                throw Fail($"not a little-endian ELF (EI_DATA {_f[5]})");
            }

            if (_f[6] != 1)
            {
                throw Fail($"unsupported ELF version (EI_VERSION {_f[6]})");
            }

            ushort type = U16(16);
            ushort machine = U16(18);
            if (machine != MachineRiscV)
            {
                throw Fail($"not a RISC-V ELF (e_machine {machine})");
            }

            if (type != (ushort)ElfFileType.Executable && type != (ushort)ElfFileType.SharedObject)
            {
                throw Fail($"not an executable ELF (e_type {type}{TypeName(type)})");
            }

            uint version = U32(20);
            if (version != 1)
            {
                throw Fail($"unsupported ELF version (e_version {version})");
            }

            ulong entry = U64(24);
            ulong phoff = U64(32);
            ulong shoff = U64(40);
            uint flags = U32(48);
            ushort ehsize = U16(52);
            if (ehsize != HeaderSize)
            {
                throw Fail($"bad e_ehsize {ehsize} (expected {HeaderSize})");
            }

            var segments = ReadProgramHeaders(memory, phoff, entry, out ulong physicalEntry);
            var symbols = ReadSectionHeaders(shoff);

            var plan = new LoadPlan(_name, segments, physicalEntry);
            return new ElfImage(_name, memory, (ElfFileType)type, flags, entry, physicalEntry, plan,
                symbols.Source, symbols.SymbolsOffset, symbols.SymbolCount, symbols.StringsOffset, symbols.StringsSize);
        }

        private static string TypeName(ushort type) => type switch
        {
            0 => " = ET_NONE",
            1 => " = ET_REL",
            4 => " = ET_CORE",
            _ => "",
        };

        private List<LoadSegment> ReadProgramHeaders(ReadOnlyMemory<byte> memory, ulong phoff, ulong entry, out ulong physicalEntry)
        {
            ushort phentsize = U16(54);
            ushort phnum = U16(56);
            if (phnum == 0)
            {
                throw Fail("no program headers (e_phnum 0)");
            }

            if (phentsize != ProgramHeaderSize)
            {
                throw Fail($"bad e_phentsize {phentsize} (expected {ProgramHeaderSize})");
            }

            if (phnum > MaxProgramHeaders)
            {
                throw Fail($"too many program headers (e_phnum {phnum}, at most {MaxProgramHeaders})");
            }

            // Every header is checked against the file before any is read, so the index in the message is the
            // first one that is cut off.
            for (int i = 0; i < phnum; i++)
            {
                if (phoff > (ulong)Length)
                {
                    throw Fail($"truncated: program header {i} extends past end of file (offset {BootFormat.Hex(phoff)}, file is {Length} bytes)");
                }

                ulong at = phoff + (ulong)i * ProgramHeaderSize;
                if (!BootFormat.FitsInFile(at, ProgramHeaderSize, Length))
                {
                    throw Fail($"truncated: program header {i} extends past end of file (offset {BootFormat.Hex(at)}, file is {Length} bytes)");
                }
            }

            // phnum <= 1170: these arrays are bounded by a constant, not by a value read from the file.
            var loads = new List<ProgramHeader>(phnum);
            physicalEntry = entry;
            for (int i = 0; i < phnum; i++)
            {
                int at = (int)phoff + i * ProgramHeaderSize;
                var ph = new ProgramHeader(i, U32(at), U32(at + 4), U64(at + 8), U64(at + 16), U64(at + 24),
                    U64(at + 32), U64(at + 40));
                if (ph.Type != PtLoad)
                {
                    continue;
                }

                if (ph.FileSize > ph.MemorySize)
                {
                    throw Fail($"program header {i}: p_filesz {BootFormat.Hex(ph.FileSize)} exceeds p_memsz {BootFormat.Hex(ph.MemorySize)}");
                }

                // Like QEMU, the offset of a segment with no file bytes is not looked at.
                if (ph.FileSize != 0 && !BootFormat.FitsInFile(ph.Offset, ph.FileSize, Length))
                {
                    throw Fail($"truncated: program header {i} segment data extends past end of file (offset {BootFormat.Hex(ph.Offset)}, size {BootFormat.Hex(ph.FileSize)}, file is {Length} bytes)");
                }

                if (ph.MemorySize > ulong.MaxValue - ph.PhysicalAddress)
                {
                    throw Fail($"program header {i}: segment at {BootFormat.Hex(ph.PhysicalAddress)} with p_memsz {BootFormat.Hex(ph.MemorySize)} wraps around the end of the address space");
                }

                // e_entry is virtual; QEMU moves it into the physical copy of the executable segment holding it.
                if (ph.VirtualAddress != ph.PhysicalAddress && (ph.Flags & PfX) != 0
                    && entry >= ph.VirtualAddress && entry - ph.VirtualAddress < ph.FileSize)
                {
                    physicalEntry = entry - ph.VirtualAddress + ph.PhysicalAddress;
                }

                loads.Add(ph);
            }

            // QEMU: a zero-fill tail that overlaps another PT_LOAD means the file packs .data at a load address
            // different from its run address; load only the file bytes of such a segment.
            var sizes = new ulong[loads.Count];
            for (int i = 0; i < loads.Count; i++)
            {
                var ph = loads[i];
                sizes[i] = ph.MemorySize;
                if (ph.MemorySize <= ph.FileSize)
                {
                    continue;
                }

                ulong zeroStart = ph.PhysicalAddress + ph.FileSize;
                ulong zeroEnd = ph.PhysicalAddress + ph.MemorySize;
                for (int j = 0; j < loads.Count; j++)
                {
                    var other = loads[j];
                    if (j != i && other.MemorySize != 0
                        && BootFormat.Overlaps(zeroStart, zeroEnd, other.PhysicalAddress, other.PhysicalAddress + other.MemorySize))
                    {
                        sizes[i] = ph.FileSize;
                        break;
                    }
                }
            }

            var order = new List<int>(loads.Count);
            for (int i = 0; i < loads.Count; i++)
            {
                if (sizes[i] != 0)
                {
                    order.Add(i);
                }
            }

            if (order.Count == 0)
            {
                throw Fail("no loadable segments (no PT_LOAD with p_memsz > 0)");
            }

            order.Sort((a, b) => loads[a].PhysicalAddress.CompareTo(loads[b].PhysicalAddress));
            for (int k = 1; k < order.Count; k++)
            {
                var previous = loads[order[k - 1]];
                var current = loads[order[k]];
                ulong previousEnd = previous.PhysicalAddress + sizes[order[k - 1]];
                if (current.PhysicalAddress < previousEnd)
                {
                    int first = Math.Min(previous.Index, current.Index);
                    int second = Math.Max(previous.Index, current.Index);
                    throw Fail($"program headers {first} and {second} overlap: {BootFormat.Range(previous.PhysicalAddress, previousEnd)} and {BootFormat.Range(current.PhysicalAddress, current.PhysicalAddress + sizes[order[k]])}");
                }
            }

            var segments = new List<LoadSegment>(order.Count);
            for (int i = 0; i < loads.Count; i++)
            {
                if (sizes[i] == 0)
                {
                    continue;
                }

                var ph = loads[i];
                var data = ph.FileSize == 0 ? ReadOnlyMemory<byte>.Empty : memory.Slice((int)ph.Offset, (int)ph.FileSize);
                segments.Add(new LoadSegment(ph.PhysicalAddress, data, sizes[i]));
            }

            return segments;
        }

        private SymbolTableLocation ReadSectionHeaders(ulong shoff)
        {
            ushort shentsize = U16(58);
            ushort shnum = U16(60);
            ushort shstrndx = U16(62);

            // The gABI: no section header table when e_shoff is 0. Sections matter only for symbols.
            if (shoff == 0)
            {
                return default;
            }

            if (shnum == 0)
            {
                throw Fail($"extended section numbering (e_shnum 0, e_shoff {BootFormat.Hex(shoff)}) is not supported");
            }

            if (shentsize != SectionHeaderSize)
            {
                throw Fail($"bad e_shentsize {shentsize} (expected {SectionHeaderSize})");
            }

            if (shstrndx == ShnXindex)
            {
                throw Fail("extended section numbering (e_shstrndx SHN_XINDEX) is not supported");
            }

            if (shstrndx >= shnum)
            {
                throw Fail($"e_shstrndx {shstrndx} out of range (e_shnum {shnum})");
            }

            for (int i = 0; i < shnum; i++)
            {
                if (shoff > (ulong)Length)
                {
                    throw Fail($"truncated: section header {i} extends past end of file (offset {BootFormat.Hex(shoff)}, file is {Length} bytes)");
                }

                ulong at = shoff + (ulong)i * SectionHeaderSize;
                if (!BootFormat.FitsInFile(at, SectionHeaderSize, Length))
                {
                    throw Fail($"truncated: section header {i} extends past end of file (offset {BootFormat.Hex(at)}, file is {Length} bytes)");
                }
            }

            int symtab = -1;
            int dynsym = -1;
            for (int i = 0; i < shnum; i++)
            {
                var sh = Section(shoff, i);
                if (sh.Type != ShtNull && sh.Type != ShtNobits && sh.Size != 0
                    && !BootFormat.FitsInFile(sh.Offset, sh.Size, Length))
                {
                    throw Fail($"truncated: section {i} extends past end of file (offset {BootFormat.Hex(sh.Offset)}, size {BootFormat.Hex(sh.Size)}, file is {Length} bytes)");
                }

                if (sh.Type == ShtSymtab && symtab < 0)
                {
                    symtab = i;
                }
                else if (sh.Type == ShtDynsym && dynsym < 0)
                {
                    dynsym = i;
                }
            }

            // Section names: only checked (and used in messages) when the file has a section name table.
            int namesOffset = 0;
            int namesSize = 0;
            if (shstrndx != 0)
            {
                var names = Section(shoff, shstrndx);
                if (names.Type != ShtStrtab)
                {
                    throw Fail($"section {shstrndx} named by e_shstrndx is not a string table (sh_type {names.Type})");
                }

                CheckStringTable(names, shstrndx, "section names");
                namesOffset = (int)names.Offset;
                namesSize = (int)names.Size;
                for (int i = 0; i < shnum; i++)
                {
                    uint nameOffset = Section(shoff, i).Name;
                    if (nameOffset >= (ulong)namesSize && !(nameOffset == 0 && namesSize == 0))
                    {
                        throw Fail($"section {i}: name offset {BootFormat.Hex(nameOffset)} outside section name table (size {BootFormat.Hex((ulong)namesSize)})");
                    }
                }
            }

            int chosen = symtab >= 0 ? symtab : dynsym;
            if (chosen < 0)
            {
                return default;
            }

            var table = Section(shoff, chosen);
            string label = SectionLabel(table, chosen, namesOffset, namesSize);
            if (table.EntrySize != SymbolSize)
            {
                throw Fail($"{label}: bad sh_entsize {table.EntrySize} (expected {SymbolSize})");
            }

            if (table.Size % SymbolSize != 0)
            {
                throw Fail($"{label}: sh_size {BootFormat.Hex(table.Size)} is not a multiple of {SymbolSize}");
            }

            if (table.Link == 0 || table.Link >= shnum)
            {
                throw Fail($"{label}: sh_link {table.Link} out of range (e_shnum {shnum})");
            }

            var strings = Section(shoff, (int)table.Link);
            if (strings.Type != ShtStrtab)
            {
                throw Fail($"{label}: sh_link {table.Link} is not a string table (sh_type {strings.Type})");
            }

            int count = (int)(table.Size / SymbolSize);
            if (count == 0)
            {
                return default;
            }

            CheckStringTable(strings, (int)table.Link, $"names of {label}");
            for (int i = 0; i < count; i++)
            {
                uint nameOffset = U32((int)table.Offset + i * SymbolSize);
                if (nameOffset >= strings.Size)
                {
                    throw Fail($"symbol {i} in {label}: name offset {BootFormat.Hex(nameOffset)} outside string table (size {BootFormat.Hex(strings.Size)})");
                }
            }

            return new SymbolTableLocation(symtab >= 0 ? ElfSymbolSource.SymbolTable : ElfSymbolSource.DynamicSymbolTable,
                (int)table.Offset, count, (int)strings.Offset, (int)strings.Size);
        }

        /// <summary>A string table must end with NUL (gABI), so every in-range offset names a terminated
        /// string; this one check replaces a scan per name.</summary>
        private void CheckStringTable(SectionHeader section, int index, string what)
        {
            if (section.Size == 0)
            {
                return;
            }

            if (_f[(int)(section.Offset + section.Size - 1)] != 0)
            {
                throw Fail($"section {index} ({what}): string table does not end with NUL");
            }
        }

        private string SectionLabel(SectionHeader section, int index, int namesOffset, int namesSize)
        {
            if (namesSize != 0 && section.Name < (uint)namesSize)
            {
                var name = _f.Slice(namesOffset + (int)section.Name, namesSize - (int)section.Name);
                name = name[..name.IndexOf((byte)0)];
                if (!name.IsEmpty && name.Length <= 64)
                {
                    return $"section {index} ({Encoding.UTF8.GetString(name)})";
                }
            }

            return $"section {index}";
        }

        private SectionHeader Section(ulong shoff, int index)
        {
            int at = (int)shoff + index * SectionHeaderSize;
            return new SectionHeader(U32(at), U32(at + 4), U64(at + 24), U64(at + 32), U32(at + 40), U64(at + 56));
        }
    }

    private readonly record struct ProgramHeader(int Index, uint Type, uint Flags, ulong Offset, ulong VirtualAddress,
        ulong PhysicalAddress, ulong FileSize, ulong MemorySize);

    private readonly record struct SectionHeader(uint Name, uint Type, ulong Offset, ulong Size, uint Link, ulong EntrySize);

    private readonly record struct SymbolTableLocation(ElfSymbolSource Source, int SymbolsOffset, int SymbolCount,
        int StringsOffset, int StringsSize);
}
