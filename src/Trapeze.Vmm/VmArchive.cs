using System.Formats.Tar;
using System.IO.Compression;

namespace Trapeze.Vmm;

/// <summary>
/// <c>export</c> and <c>import</c>: a powered-off bundle as one tar archive (gzip-compressed when the file
/// name ends in .gz or .tgz), its files under a top directory named after the VM. Files a VM process makes
/// while running are left out. Import takes regular files and directories only, inside that top directory:
/// an archive may come from anywhere.
/// </summary>
public static class VmArchive
{
    public static VmResult Export(VmBundle bundle, string file)
    {
        string target = Path.GetFullPath(file);
        if (File.Exists(target) || Directory.Exists(target)) throw VmException.Conflict($"'{file}' exists already");
        string temp = target + $".tmp-{Environment.ProcessId}";
        try
        {
            using (var output = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
            using (Stream stream = Compressed(target) ? new GZipStream(output, CompressionLevel.Fastest) : output)
            using (var tar = new TarWriter(stream, TarEntryFormat.Pax, leaveOpen: false))
            {
                tar.WriteEntry(new PaxTarEntry(TarEntryType.Directory, bundle.Name + "/"));
                foreach (string path in Directory.EnumerateFileSystemEntries(bundle.Directory, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
                {
                    string relative = Path.GetRelativePath(bundle.Directory, path);
                    if (VmBundle.RuntimeFiles.Contains(relative) || relative.EndsWith(".tmp", StringComparison.Ordinal)) continue;
                    var info = new FileInfo(path);
                    if (info.LinkTarget != null) continue;
                    tar.WriteEntry(path, $"{bundle.Name}/{relative.Replace(Path.DirectorySeparatorChar, '/')}");
                }
            }
            File.Move(temp, target);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            File.Delete(temp);
            throw VmException.BadRequest($"cannot write '{file}': {e.Message}");
        }
        return new VmResult(Message: $"exported {bundle.Name} to {target}");
    }

    public static VmResult Import(VmHome home, string file, string? newName)
    {
        if (newName != null) VmNames.Check(newName);
        string source = Path.GetFullPath(file);
        if (!File.Exists(source)) throw VmException.BadRequest($"cannot read '{file}': no such file");
        Directory.CreateDirectory(home.VmsDirectory);
        string temp = Path.Combine(home.VmsDirectory, $".importing-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);
        try
        {
            string top = Extract(source, file, temp);
            VmBundle bundle = VmBundle.Open(Path.Combine(temp, top));
            string name = newName ?? bundle.Name;
            if (name != bundle.Name) bundle.Save(bundle.Definition with { Name = name });
            string final = home.BundleDirectory(name);
            if (Directory.Exists(final)) throw VmException.Conflict($"a VM named '{name}' already exists ({final})");
            Directory.Move(bundle.Directory, final);
            return new VmResult(Message: $"imported {name} into {final}");
        }
        finally
        {
            try { Directory.Delete(temp, true); }
            catch (IOException) { }
        }
    }

    private static string Extract(string source, string file, string into)
    {
        string? top = null;
        try
        {
            using var input = File.OpenRead(source);
            bool gzip = input.ReadByte() == 0x1f && input.ReadByte() == 0x8b;
            input.Position = 0;
            using Stream stream = gzip ? new GZipStream(input, CompressionMode.Decompress) : input;
            using var tar = new TarReader(stream);
            while (tar.GetNextEntry() is { } entry)
            {
                string name = entry.Name.TrimEnd('/');
                string[] parts = name.Split('/');
                if (parts.Length == 0 || parts.Any(p => p is "" or "." or "..") || name.StartsWith('/'))
                    throw VmException.BadRequest($"{file}: entry '{entry.Name}' is not a plain relative path");
                top ??= parts[0];
                if (parts[0] != top) throw VmException.BadRequest($"{file}: entries outside the top directory '{top}' ('{entry.Name}')");
                string target = Path.Combine(into, Path.Combine(parts));
                switch (entry.EntryType)
                {
                    case TarEntryType.Directory:
                        Directory.CreateDirectory(target);
                        break;
                    case TarEntryType.RegularFile or TarEntryType.V7RegularFile:
                        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                        entry.ExtractToFile(target, overwrite: false);
                        break;
                    default:
                        throw VmException.BadRequest($"{file}: entry '{entry.Name}' is a {entry.EntryType}, not a file or directory");
                }
            }
        }
        catch (Exception e) when (e is InvalidDataException or FormatException or EndOfStreamException)
        {
            throw VmException.BadRequest($"{file}: not a VM archive ({e.Message})");
        }
        if (top == null || !File.Exists(Path.Combine(into, top, VmBundle.DefinitionFile)))
            throw VmException.BadRequest($"{file}: no {top ?? "VM"}/{VmBundle.DefinitionFile} in the archive");
        return top;
    }

    private static bool Compressed(string path) =>
        path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) || path.EndsWith(".tgz", StringComparison.OrdinalIgnoreCase);
}
