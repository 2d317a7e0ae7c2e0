namespace Trapeze.Cli;

/// <summary>
/// Reads <c>--name value</c> / <c>--name=value</c> options and positional arguments, QEMU/GNU style.
/// Every option a command knows is declared up front, so an unknown or repeated one is a precise error.
/// </summary>
public sealed class ArgReader
{
    private readonly Dictionary<string, List<string>> _values = new();
    private readonly HashSet<string> _flags = new();
    private readonly List<string> _positional = new();

    public ArgReader(string command, IReadOnlyList<string> args, IEnumerable<string> valueOptions, IEnumerable<string> flagOptions)
    {
        var valued = new HashSet<string>(valueOptions);
        var flags = new HashSet<string>(flagOptions);
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            if (a == "--") { _positional.AddRange(args.Skip(i + 1)); break; }
            if (!a.StartsWith("--", StringComparison.Ordinal) || a.Length == 2)
            {
                if (a.StartsWith('-') && a.Length > 1) throw new UsageException($"{command}: unknown option '{a}' (see '{command} --help')");
                _positional.Add(a);
                continue;
            }
            string name = a[2..], value;
            int eq = name.IndexOf('=');
            if (eq >= 0) { value = name[(eq + 1)..]; name = name[..eq]; }
            else value = "";
            if (flags.Contains(name))
            {
                if (eq >= 0) throw new UsageException($"{command}: option --{name} takes no value");
                _flags.Add(name);
                continue;
            }
            if (!valued.Contains(name)) throw new UsageException($"{command}: unknown option '--{name}' (see '{command} --help')");
            if (eq < 0)
            {
                if (i + 1 >= args.Count) throw new UsageException($"{command}: option --{name} needs a value");
                value = args[++i];
            }
            if (!_values.TryGetValue(name, out var list)) _values[name] = list = [];
            list.Add(value);
        }
    }

    public IReadOnlyList<string> Positional => _positional;

    public bool Flag(string name) => _flags.Contains(name);

    public string? Value(string name)
    {
        if (!_values.TryGetValue(name, out var list)) return null;
        if (list.Count > 1) throw new UsageException($"option --{name} given {list.Count} times");
        return list[0];
    }

    public IReadOnlyList<string> Values(string name) => _values.TryGetValue(name, out var list) ? list : [];

    /// <summary>Parses a memory size as QEMU's -m does: a bare number is MiB; suffixes K, M, G, T (binary).</summary>
    public static ulong ParseSize(string option, string text)
    {
        string t = text.Trim();
        if (t.Length == 0) throw new UsageException($"--{option}: empty size");
        ulong unit = 1UL << 20;
        char last = char.ToUpperInvariant(t[^1]);
        if (last == 'B' && t.Length > 1) { t = t[..^1]; last = char.ToUpperInvariant(t[^1]); }
        switch (last)
        {
            case 'K': unit = 1UL << 10; t = t[..^1]; break;
            case 'M': unit = 1UL << 20; t = t[..^1]; break;
            case 'G': unit = 1UL << 30; t = t[..^1]; break;
            case 'T': unit = 1UL << 40; t = t[..^1]; break;
        }
        if (!ulong.TryParse(t, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out ulong n))
            throw new UsageException($"--{option}: '{text}' is not a size (examples: 512M, 2G)");
        if (n == 0) throw new UsageException($"--{option}: size must be greater than zero");
        if (n > ulong.MaxValue / unit) throw new UsageException($"--{option}: '{text}' is too large");
        return n * unit;
    }

    public static int ParseInt(string option, string text, int min, int max)
    {
        if (!int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int n) || n < min || n > max)
            throw new UsageException($"--{option}: '{text}' is not a number in {min}..{max}");
        return n;
    }
}
