using System.Globalization;
using Trapeze.Devices.Storage;

namespace Trapeze.Cli;

/// <summary><c>trapeze disk create|info|resize|convert</c>: disk image files, raw and qcow2. New images are
/// written under a temporary name and renamed into place, so bad input leaves every file as it was.</summary>
public static class DiskCommand
{
    public const string Help = """
        usage: trapeze disk create FILE [SIZE] [--format raw|qcow2] [--backing FILE [--backing-format F]]
                                               [--cluster-size N] [--allow-external-backing]
               trapeze disk info FILE [--format raw|qcow2]
               trapeze disk resize FILE [+]SIZE [--format raw|qcow2] [--allow-external-backing]
               trapeze disk convert SRC DST --format raw|qcow2 [--source-format raw|qcow2] [--cluster-size N]
                                               [--allow-external-backing]

        SIZE is in bytes, or with a suffix K, M, G, T, P (powers of 1024), and a multiple of 512.
          create    a new image (never replaces a file). Default format raw (sparse), or qcow2 with
                    --backing; --cluster-size (qcow2) is a power of two from 512 to 2M (default 64K).
                    A backing file name is stored as given and is relative to the new image's directory;
                    without SIZE the image has the backing file's size.
          info      format, virtual size, file size, disk usage and, for qcow2, cluster size, backing
                    file, snapshots and the dirty/corrupt flags.
          resize    grow the disk to SIZE, or by SIZE with '+'. Shrinking is refused.
          convert   copy a disk's contents (backing chain flattened) into a new image; zero ranges are
                    not written (holes in raw, unallocated clusters in qcow2).

        The format of an existing image is probed when not given: the qcow2 magic means qcow2.
        qcow2 backing files outside the image's own directory are refused unless
        --allow-external-backing is given: the name comes from the image, which may not be trusted.
        """;

    public static int Execute(string[] args)
    {
        if (args.Length == 0 || args[0] is "--help" or "-h" or "help")
        {
            HostStreams.Out.Write(Help);
            return args.Length == 0 ? 2 : 0;
        }
        string[] rest = args[1..];
        return args[0] switch
        {
            "create" => Create(rest),
            "info" => Info(rest),
            "resize" => Resize(rest),
            "convert" => Convert(rest),
            _ => throw new UsageException($"disk: unknown subcommand '{args[0]}' (create, info, resize, convert)"),
        };
    }

    private static ArgReader Read(string command, string[] args, string[] valued, string[] flags, out bool help)
    {
        var a = new ArgReader($"disk {command}", args, valued, [.. flags, "help"]);
        help = a.Flag("help");
        if (help) HostStreams.Out.Write(Help);
        return a;
    }

    private static int Create(string[] args)
    {
        var a = Read("create", args, ["format", "backing", "backing-format", "cluster-size"], ["allow-external-backing"], out bool help);
        if (help) return 0;
        if (a.Positional.Count is < 1 or > 2) throw new UsageException("disk create: expected FILE [SIZE]");
        string? backing = a.Value("backing");
        string format = Format(a.Value("format")) ?? (backing != null ? DiskImages.Qcow2 : DiskImages.Raw);
        if (a.Positional.Count == 1 && backing == null) throw new UsageException("disk create: expected a SIZE (or --backing FILE to take its size)");
        ulong size = a.Positional.Count == 2 ? ParseSize("size", a.Positional[1], allowZero: false) : 0;
        int clusterSize = ClusterSize(a.Value("cluster-size"), format);
        if (a.Value("backing-format") is { } bf && backing == null) throw new UsageException("disk create: --backing-format needs --backing");
        DiskImages.Create(a.Positional[0], format, size, clusterSize, backing, Format(a.Value("backing-format")), a.Flag("allow-external-backing"));
        return 0;
    }

    private static int Info(string[] args)
    {
        var a = Read("info", args, ["format"], [], out bool help);
        if (help) return 0;
        if (a.Positional.Count != 1) throw new UsageException("disk info: expected exactly one FILE");
        string path = a.Positional[0];
        DiskImageInfo info = DiskImages.Info(path, Format(a.Value("format")));
        var w = HostStreams.Out;
        w.WriteLine($"image: {path}");
        w.WriteLine($"format: {info.Format}");
        w.WriteLine($"virtual size: {Human(info.VirtualSize)} ({info.VirtualSize} bytes)");
        w.WriteLine($"file size: {Human(info.FileSize)} ({info.FileSize} bytes)");
        w.WriteLine($"disk usage: {Human(info.DiskUsage)} ({info.DiskUsage} bytes)");
        if (info.Format == DiskImages.Qcow2)
        {
            w.WriteLine($"cluster size: {info.ClusterSize}");
            w.WriteLine($"qcow2 version: {info.Version}");
            w.WriteLine($"refcount bits: {info.RefcountBits}");
            w.WriteLine($"backing file: {info.BackingFile ?? "none"}");
            if (info.BackingFile != null) w.WriteLine($"backing format: {info.BackingFormat ?? "not recorded (probed)"}");
            w.WriteLine($"snapshots: {info.Snapshots}");
            w.WriteLine($"dirty: {(info.Dirty ? "yes" : "no")}");
            w.WriteLine($"corrupt: {(info.Corrupt ? "yes" : "no")}");
        }
        return 0;
    }

    private static int Resize(string[] args)
    {
        if (args.Any(x => x.Length > 1 && x[0] == '-' && char.IsAsciiDigit(x[1])))
            throw new UsageException("disk resize: shrinking is not supported (it would discard the end of the disk)");
        var a = Read("resize", args, ["format"], ["allow-external-backing"], out bool help);
        if (help) return 0;
        if (a.Positional.Count != 2) throw new UsageException("disk resize: expected FILE SIZE (or FILE +SIZE)");
        string text = a.Positional[1];
        bool relative = text.StartsWith('+');
        ulong size = ParseSize("size", relative ? text[1..] : text, allowZero: relative);
        ulong result = DiskImages.Resize(a.Positional[0], size, relative,
            new DiskOpenOptions(Format(a.Value("format")), AllowExternalBacking: a.Flag("allow-external-backing")));
        HostStreams.Out.WriteLine($"{a.Positional[0]}: {Human(result)} ({result} bytes)");
        return 0;
    }

    private static int Convert(string[] args)
    {
        var a = Read("convert", args, ["format", "source-format", "cluster-size"], ["allow-external-backing"], out bool help);
        if (help) return 0;
        if (a.Positional.Count != 2) throw new UsageException("disk convert: expected SRC DST");
        string format = Format(a.Value("format")) ?? throw new UsageException("disk convert: --format raw|qcow2 is required");
        int clusterSize = ClusterSize(a.Value("cluster-size"), format);
        DiskImages.Convert(a.Positional[0], a.Positional[1], format,
            new DiskOpenOptions(Format(a.Value("source-format")), ReadOnly: true, AllowExternalBacking: a.Flag("allow-external-backing")), clusterSize);
        return 0;
    }

    private static string? Format(string? text) => text switch
    {
        null => null,
        DiskImages.Raw or DiskImages.Qcow2 => text,
        _ => throw new UsageException($"format '{text}' is not supported (raw, qcow2)"),
    };

    private static int ClusterSize(string? text, string format)
    {
        if (text == null) return Qcow2Image.DefaultClusterSize;
        if (format != DiskImages.Qcow2) throw new UsageException("--cluster-size applies to qcow2 images only");
        ulong n = ParseSize("cluster-size", text, allowZero: false);
        if (n < 512 || n > 2 << 20 || (n & (n - 1)) != 0)
            throw new UsageException($"--cluster-size: '{text}' is not a power of two from 512 to 2M");
        return (int)n;
    }

    /// <summary>A disk size as qemu-img reads one: a bare number is bytes; K, M, G, T, P are powers of 1024
    /// (an optional B or iB after them is accepted).</summary>
    public static ulong ParseSize(string what, string text, bool allowZero)
    {
        string t = text.Trim();
        if (t.EndsWith("iB", StringComparison.OrdinalIgnoreCase)) t = t[..^2];
        else if (t.Length > 1 && char.ToUpperInvariant(t[^1]) == 'B' && char.IsLetter(t[^2])) t = t[..^1];
        int shift = 0;
        if (t.Length > 0)
        {
            shift = char.ToUpperInvariant(t[^1]) switch { 'K' => 10, 'M' => 20, 'G' => 30, 'T' => 40, 'P' => 50, _ => 0 };
            if (shift != 0) t = t[..^1];
        }
        if (!ulong.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out ulong n))
            throw new UsageException($"{what}: '{text}' is not a size (examples: 10G, 512M, 1048576)");
        if (n > ulong.MaxValue >> shift) throw new UsageException($"{what}: '{text}' is too large");
        n <<= shift;
        if (n == 0 && !allowZero) throw new UsageException($"{what}: must be greater than zero");
        return n;
    }

    private static string Human(ulong bytes)
    {
        string[] units = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
        double v = bytes;
        int u = 0;
        while (v >= 1024 && u < units.Length - 1) { v /= 1024; u++; }
        return u == 0 ? $"{bytes} bytes" : v.ToString("0.##", CultureInfo.InvariantCulture) + " " + units[u];
    }
}
