namespace Trapeze.Machine.Boot;

/// <summary>ELF object file type (<c>e_type</c>) of a loadable image.</summary>
public enum ElfFileType : ushort
{
    /// <summary><c>ET_EXEC</c>: OpenSBI, U-Boot, bare-metal tests, vmlinux.</summary>
    Executable = 2,

    /// <summary><c>ET_DYN</c>: position-independent images, loaded at their p_paddr as they are.</summary>
    SharedObject = 3,
}

/// <summary>Which table <see cref="ElfImage.TryGetSymbol"/> searches.</summary>
public enum ElfSymbolSource
{
    None,

    /// <summary><c>SHT_SYMTAB</c> (<c>.symtab</c>), the full table of an unstripped file.</summary>
    SymbolTable,

    /// <summary><c>SHT_DYNSYM</c> (<c>.dynsym</c>), what remains in a stripped relocatable firmware.</summary>
    DynamicSymbolTable,
}

/// <summary>One defined, named symbol of an <see cref="ElfImage"/>.</summary>
public readonly record struct ElfSymbol(string Name, ulong Value, ulong Size, byte Type, byte Binding, ushort SectionIndex)
{
    public const byte BindingLocal = 0;
    public const byte BindingGlobal = 1;
    public const byte BindingWeak = 2;
}
