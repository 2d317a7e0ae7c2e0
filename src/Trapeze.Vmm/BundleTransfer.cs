using System.Buffers.Binary;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Trapeze.Devices.Storage;

namespace Trapeze.Vmm;

/// <summary>
/// What goes ahead of a live migration's RAM and state (<see cref="Trapeze.Machine.Migration.LiveMigration"/>)
/// between two VM processes: the source's vm.json and the boot files its bundle holds (kernel, initrd,
/// firmware), so that the destination ends up with a bundle of its own that stops, starts and snapshots there
/// like any other. The destination answers with an accept or a refusal (one line) before any RAM is sent.
/// <para>
/// A writable disk in the bundle is copied: the preamble describes it (drive id, format, virtual size), the
/// destination creates a new, empty image of that format and size under the same name in its bundle (a qcow2
/// image stays sparse), and the live migration fills it during pre-copy while the guest goes on writing at the
/// source (see <see cref="Trapeze.Machine.Migration.LiveMigration"/>). The source's own image is only read. A
/// writable image outside the bundle is refused: the running source holds it exclusively, and a copy would not
/// be where its vm.json names it. A read-only image at an absolute path is shared (both hold it under a shared
/// lock): the two hosts must reach the same storage, and the destination refuses when it cannot open that path.
/// </para>
/// <para>
/// Format: magic "TRPZBNDL" (u64), version (u32), vm.json (u32 length, UTF-8), flags (u32: bit 0, the source
/// was paused, so the destination leaves the guest paused), file count (u32), then per
/// file its name (u32 length, UTF-8; a plain file name) and contents (u64 length, bytes); disk count (u32), then
/// per writable disk its drive id, format (u32 length, UTF-8 each) and virtual size (u64). Reply: status (u32,
/// 0 = accepted), message (u32 length, UTF-8). Integers little-endian; every length is bounded before
/// anything is allocated.
/// </para>
/// </summary>
public static class BundleTransfer
{
    /// <summary>A writable disk copied by a migration: what the destination needs to create it empty.</summary>
    public sealed record MigratedDisk(string DriveId, string Format, ulong VirtualSize);

    public const ulong Magic = 0x4c444e425a505254;
    public const uint Version = 2;
    public const int MaxDefinitionBytes = 1 << 20;
    public const long MaxFileBytes = 1L << 30;
    public const int MaxFiles = 8;
    public const int MaxMessageBytes = 4096;
    public const int MaxDisks = 16;

    /// <summary>The largest disk a destination creates for a migration (64 TiB, as QEMU's qcow2 limit).</summary>
    public const ulong MaxDiskBytes = 64UL << 40;
    private const uint PausedFlag = 1;

    /// <summary>The boot files a bundle may carry by a relative name.</summary>
    public static readonly string[] BootFiles = ["kernel", "initrd", "firmware"];

    /// <summary>Refuses what a live migration cannot move (see the type's remarks); returns the boot files to send
    /// as (name in the bundle, full path).</summary>
    public static IReadOnlyList<(string Name, string Path)> CheckMovable(VmBundle bundle)
    {
        VmDefinition d = bundle.Definition;
        foreach (VmDrive drive in d.Drives)
        {
            bool inBundle = !Path.IsPathRooted(drive.Path);
            if (inBundle && drive.ReadOnly)
                throw VmException.BadRequest($"{d.Name}: drive '{drive.Id}' is a read-only image inside the bundle ({drive.Path}); live migration copies writable disks and shares read-only ones, which must be on storage both hosts reach (an absolute path)");
            if (inBundle && !IsPlainName(drive.Path))
                throw VmException.BadRequest($"{d.Name}: drive '{drive.Id}' ({drive.Path}) is not a plain file name in the bundle");
            if (!inBundle && !drive.ReadOnly)
                throw VmException.BadRequest($"{d.Name}: drive '{drive.Id}' is a writable image outside the bundle ({drive.Path}); live migration copies writable disks only from inside the bundle (the running VM holds this one exclusively)");
        }
        var files = new List<(string, string)>();
        foreach (string? path in new[] { d.Kernel, d.Initrd, d.Firmware is VmDefinition.FirmwareOpenSbi or VmDefinition.FirmwareBuiltin or VmDefinition.FirmwareNone ? null : d.Firmware })
        {
            // Absolute paths stay as they are: the destination host must have the same file (as for disks).
            if (path == null || Path.IsPathRooted(path)) continue;
            if (!IsPlainName(path)) throw VmException.BadRequest($"{d.Name}: boot file '{path}' is not a plain file name in the bundle");
            files.Add((path, bundle.Resolve(path)));
        }
        return files;
    }

    private static bool IsPlainName(string name) =>
        name.Length > 0 && name != "." && name != ".." && name.IndexOfAny(['/', '\\', '\0']) < 0;

    /// <summary>Sends the preamble; <paramref name="disks"/> describes the writable disks (in the bundle) that the
    /// migration copies, which the destination creates empty.</summary>
    public static void Send(Stream stream, VmBundle bundle, IReadOnlyList<(string Name, string Path)> files, bool paused = false,
        IReadOnlyList<MigratedDisk>? disks = null)
    {
        byte[] definition = File.ReadAllBytes(bundle.DefinitionPath);
        WriteU64(stream, Magic);
        WriteU32(stream, Version);
        WriteBytes(stream, definition);
        WriteU32(stream, paused ? PausedFlag : 0);
        WriteU32(stream, (uint)files.Count);
        foreach ((string name, string path) in files)
        {
            WriteBytes(stream, Encoding.UTF8.GetBytes(name));
            using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            WriteU64(stream, (ulong)f.Length);
            f.CopyTo(stream);
        }
        disks ??= [];
        WriteU32(stream, (uint)disks.Count);
        foreach (MigratedDisk disk in disks)
        {
            WriteBytes(stream, Encoding.UTF8.GetBytes(disk.DriveId));
            WriteBytes(stream, Encoding.UTF8.GetBytes(disk.Format));
            WriteU64(stream, disk.VirtualSize);
        }
        stream.Flush();
        uint status = ReadU32(stream);
        string message = Encoding.UTF8.GetString(ReadBytes(stream, MaxMessageBytes));
        if (status != 0) throw VmException.BadRequest($"the destination refused: {message}");
    }

    /// <summary>Reads the preamble into <paramref name="directory"/> (the boot files, then vm.json renamed to
    /// <paramref name="name"/>) and returns the bundle; a malformed preamble throws <see cref="VmException"/>.
    /// The caller answers with <see cref="Reply"/>. <paramref name="paused"/>: the source's guest was paused.</summary>
    public static VmBundle Receive(Stream stream, string directory, string name, out bool paused)
    {
        try
        {
            if (ReadU64(stream) != Magic) throw VmException.BadRequest("not a Trapeze migration (bad magic)");
            uint version = ReadU32(stream);
            if (version != Version) throw VmException.BadRequest($"bundle transfer version {version}, this side speaks {Version}");
            string json = Encoding.UTF8.GetString(ReadBytes(stream, MaxDefinitionBytes));
            VmDefinition definition = VmJson.Read(json, "the source's vm.json") with { Name = name };
            uint flags = ReadU32(stream);
            if ((flags & ~PausedFlag) != 0) throw VmException.BadRequest($"unknown bundle transfer flags 0x{flags:x}");
            paused = (flags & PausedFlag) != 0;
            uint count = ReadU32(stream);
            if (count > MaxFiles) throw VmException.BadRequest($"{count} boot files (at most {MaxFiles})");
            for (uint i = 0; i < count; i++)
            {
                string file = Encoding.UTF8.GetString(ReadBytes(stream, 256));
                if (!IsPlainName(file) || file == VmBundle.DefinitionFile || VmBundle.RuntimeFiles.Contains(file))
                    throw VmException.BadRequest($"boot file name '{file}' is not allowed");
                ulong length = ReadU64(stream);
                if (length > MaxFileBytes) throw VmException.BadRequest($"boot file '{file}' of {length} bytes is over the limit");
                using var f = new FileStream(Path.Combine(directory, file), FileMode.Create, FileAccess.Write, FileShare.None);
                CopyExactly(stream, f, (long)length);
            }
            CreateDisks(stream, directory, definition);
            return VmBundle.Create(directory, definition);
        }
        catch (EndOfStreamException)
        {
            throw VmException.BadRequest("the source went away during the bundle transfer");
        }
    }

    /// <summary>Reads the disk descriptions and creates each disk empty in <paramref name="directory"/>, after
    /// checking it against the drive of that id: writable, a plain name in the bundle, the same format.
    /// Every writable drive must be described (the machine is built with these images).</summary>
    private static void CreateDisks(Stream stream, string directory, VmDefinition definition)
    {
        uint count = ReadU32(stream);
        if (count > MaxDisks) throw VmException.BadRequest($"{count} disks (at most {MaxDisks})");
        var created = new HashSet<string>();
        for (uint i = 0; i < count; i++)
        {
            string id = Encoding.UTF8.GetString(ReadBytes(stream, 64));
            string format = Encoding.UTF8.GetString(ReadBytes(stream, 16));
            ulong size = ReadU64(stream);
            VmDrive? drive = definition.Drives.FirstOrDefault(x => x.Id == id);
            if (drive == null || drive.ReadOnly || Path.IsPathRooted(drive.Path) || !IsPlainName(drive.Path) || !created.Add(id))
                throw VmException.BadRequest($"disk '{id}' is not a writable drive in the bundle, or is described twice");
            if (format is not (DiskImages.Raw or DiskImages.Qcow2) || (drive.Format != null && drive.Format != format))
                throw VmException.BadRequest($"disk '{id}': format '{format}' (the drive says '{drive.Format}')");
            if (size == 0 || size % 512 != 0 || size > MaxDiskBytes)
                throw VmException.BadRequest($"disk '{id}': size {size} is not a positive multiple of 512 bytes up to {MaxDiskBytes}");
            if (drive.Path == VmBundle.DefinitionFile || VmBundle.RuntimeFiles.Contains(drive.Path) || File.Exists(Path.Combine(directory, drive.Path)))
                throw VmException.BadRequest($"disk '{id}': file name '{drive.Path}' is not allowed");
            try { DiskImages.Create(Path.Combine(directory, drive.Path), format, size); }
            catch (DiskImageException e) { throw VmException.BadRequest($"disk '{id}': {e.Message}"); }
        }
        foreach (VmDrive drive in definition.Drives)
            if (!drive.ReadOnly && !created.Contains(drive.Id))
                throw VmException.BadRequest($"writable drive '{drive.Id}' was not described by the source");
    }

    public static void Reply(Stream stream, string? refusal)
    {
        WriteU32(stream, refusal == null ? 0u : 1u);
        byte[] m = Encoding.UTF8.GetBytes(refusal ?? "ok");
        WriteBytes(stream, m.Length <= MaxMessageBytes ? m : m[..MaxMessageBytes]);
        stream.Flush();
    }

    /// <summary>Parses <c>HOST:PORT</c> (an IPv6 host in brackets); a bad one is a <see cref="VmException"/>.</summary>
    public static (string Host, int Port) ParseAddress(string text, string what)
    {
        int colon = text.LastIndexOf(':');
        string host = colon > 0 ? text[..colon] : "";
        if (host.StartsWith('[') && host.EndsWith(']')) host = host[1..^1];
        if (host.Length == 0 || !int.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
            throw VmException.BadRequest($"{what} '{text}' is not HOST:PORT (port 1..65535)");
        return (host, port);
    }

    /// <summary>Binds <paramref name="address"/> for the one incoming migration.</summary>
    public static TcpListener Listen(string address)
    {
        (string host, int port) = ParseAddress(address, "listen address");
        IPAddress? ip = IPAddress.TryParse(host, out IPAddress? parsed) ? parsed : null;
        if (ip == null)
        {
            try { ip = Dns.GetHostAddresses(host).FirstOrDefault(); }
            catch (SocketException e) { throw VmException.BadRequest($"cannot listen on {address}: {e.Message}"); }
            if (ip == null) throw VmException.BadRequest($"cannot listen on {address}: '{host}' has no address");
        }
        var listener = new TcpListener(ip, port);
        try { listener.Start(1); }
        catch (SocketException e) { throw VmException.BadRequest($"cannot listen on {address}: {e.Message}"); }
        return listener;
    }

    /// <summary>Connects to the destination; a refusal or time-out is a <see cref="VmException"/>.</summary>
    public static TcpClient Connect(string address, TimeSpan timeout)
    {
        (string host, int port) = ParseAddress(address, "destination");
        var client = new TcpClient { NoDelay = true };
        try
        {
            if (!client.ConnectAsync(host, port).Wait(timeout)) throw VmException.Conflict($"cannot connect to {address}: timed out");
            return client;
        }
        catch (AggregateException e) when (e.InnerException is SocketException s)
        {
            client.Dispose();
            throw VmException.Conflict($"cannot connect to {address}: {s.Message}");
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    private static void CopyExactly(Stream from, Stream to, long length)
    {
        var buffer = new byte[1 << 16];
        while (length > 0)
        {
            int n = from.Read(buffer, 0, (int)Math.Min(buffer.Length, length));
            if (n <= 0) throw new EndOfStreamException();
            to.Write(buffer, 0, n);
            length -= n;
        }
    }

    private static void WriteU32(Stream s, uint v)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        s.Write(b);
    }

    private static void WriteU64(Stream s, ulong v)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(b, v);
        s.Write(b);
    }

    private static void WriteBytes(Stream s, byte[] data)
    {
        WriteU32(s, (uint)data.Length);
        s.Write(data);
    }

    private static uint ReadU32(Stream s)
    {
        Span<byte> b = stackalloc byte[4];
        s.ReadExactly(b);
        return BinaryPrimitives.ReadUInt32LittleEndian(b);
    }

    private static ulong ReadU64(Stream s)
    {
        Span<byte> b = stackalloc byte[8];
        s.ReadExactly(b);
        return BinaryPrimitives.ReadUInt64LittleEndian(b);
    }

    private static byte[] ReadBytes(Stream s, int max)
    {
        uint n = ReadU32(s);
        if (n > max) throw VmException.BadRequest($"a field of {n} bytes is over the {max}-byte limit");
        var b = new byte[n];
        s.ReadExactly(b);
        return b;
    }
}
