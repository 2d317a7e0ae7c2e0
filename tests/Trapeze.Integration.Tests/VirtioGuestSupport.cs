using System.Diagnostics;
using System.IO.Compression;
using System.Text;

namespace Trapeze.Integration.Tests;

/// <summary>
/// The default Linux guest (guests/build-guest.sh: Debian's kernel and busybox), built once into a cache
/// directory and reused: <c>$TRAPEZE_GUEST_CACHE</c>, else <c>~/.cache/trapeze/guest</c>. The virtio
/// tests boot it with their own script appended to the initramfs as a second archive, so the default
/// guest is never changed.
/// </summary>
public sealed partial class VirtioGuestImage : IDisposable
{
    public VirtioGuestImage()
    {
        string cache = CacheDirectory;
        Kernel = Path.Combine(cache, "Image");
        BaseInitrd = Path.Combine(cache, "initramfs.cpio.gz");
        WorkDir = Directory.CreateTempSubdirectory("trapeze-virtio-").FullName;
        Initrd = Path.Combine(WorkDir, "initramfs-virtio-test.cpio.gz");
        Error = EnsureBuilt(cache);
        if (Error != null) return;
        // The kernel unpacks concatenated archives in order (init/initramfs.c): ours adds one file.
        using var output = File.Create(Initrd);
        using (var input = File.OpenRead(BaseInitrd)) input.CopyTo(output);
        using var gzip = new GZipStream(output, CompressionLevel.Fastest);
        byte[] cpio = NewcArchive.Build([
            ("virtio-test.sh", 0x81ed, Encoding.ASCII.GetBytes(GuestScript.Replace("\r\n", "\n"))),
            ("net-test.sh", 0x81ed, Encoding.ASCII.GetBytes(NetScript.Replace("\r\n", "\n"))),
        ]);
        gzip.Write(cpio);
    }

    /// <summary>Where the guest is built: $TRAPEZE_GUEST_CACHE, else where <c>trapeze run</c> keeps its default
    /// guest ($TRAPEZE_GUEST_DIR, else $XDG_CACHE_HOME or ~/.cache, then trapeze/guest), so they share it.</summary>
    public static string CacheDirectory =>
        Environment.GetEnvironmentVariable("TRAPEZE_GUEST_CACHE") is { Length: > 0 } c ? c
        : Environment.GetEnvironmentVariable("TRAPEZE_GUEST_DIR") is { Length: > 0 } d ? d
        : Path.Combine(Environment.GetEnvironmentVariable("XDG_CACHE_HOME") is { Length: > 0 } x ? x
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache"), "trapeze", "guest");

    public string Kernel { get; }
    public string BaseInitrd { get; }
    public string Initrd { get; }
    public string WorkDir { get; }

    /// <summary>Why the guest could not be built, or null.</summary>
    public string? Error { get; }

    private string? EnsureBuilt(string cache)
    {
        if (File.Exists(Kernel) && File.Exists(BaseInitrd)) return null;
        Directory.CreateDirectory(cache);
        // One builder at a time (test processes may run in parallel).
        using var lockFile = WaitForLock(Path.Combine(cache, ".build-lock"));
        if (File.Exists(Kernel) && File.Exists(BaseInitrd)) return null;
        var psi = new ProcessStartInfo("bash") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(RepoPaths.Root, "guests", "build-guest.sh"));
        psi.ArgumentList.Add(cache);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(TimeSpan.FromMinutes(20)))
        {
            p.Kill(true);
            return "guests/build-guest.sh did not finish within 20 minutes";
        }
        p.WaitForExit();
        if (p.ExitCode != 0 || !File.Exists(Kernel) || !File.Exists(BaseInitrd))
            return $"guests/build-guest.sh {cache} failed ({p.ExitCode}):\n{stdout.Result}\n{stderr.Result}";
        return null;
    }

    private static FileStream WaitForLock(string path)
    {
        var deadline = DateTime.UtcNow.AddMinutes(25);
        while (true)
        {
            try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
            catch (IOException) when (DateTime.UtcNow < deadline) { Thread.Sleep(1000); }
        }
    }

    public void Dispose()
    {
        try { Directory.Delete(WorkDir, true); }
        catch (IOException) { }
    }

    /// <summary>
    /// The guest side of the virtio tests (run=/virtio-test.sh vt=PHASE). Every line it prints starts with
    /// "VT ". It needs a disk with an ext4 file system holding seed.txt as vda and, in boot1, a second
    /// read-only disk as vdb.
    /// </summary>
    public const string GuestScript = """
        #!/bin/sh
        arg() { for w in $(cat /proc/cmdline); do case $w in "$1="*) echo "${w#*=}"; return;; esac; done; }
        phase=$(arg vt)
        echo "VT phase $phase stdout=$(readlink /proc/$$/fd/1)"
        echo "VT rng_current $(cat /sys/class/misc/hw_random/rng_current 2>&1)"
        echo "VT features $(for d in /sys/bus/virtio/devices/*; do echo "$(cat $d/device):$(cat $d/features)"; done | tr '\n' ' ')"
        echo "VT hwrng $(head -c 32 /dev/hwrng | od -An -tx1 | tr -d ' \n')"
        i=0; while [ ! -b /dev/vda ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
        echo "VT vda serial=$(cat /sys/block/vda/serial 2>&1) ro=$(cat /sys/block/vda/ro)"
        mount -t ext4 /dev/vda /mnt || { echo "VT mount failed"; exit 1; }
        echo "VT seed $(cat /mnt/seed.txt)"
        case $phase in
        boot1)
          echo "VT vdb ro=$(cat /sys/block/vdb/ro) sectors=$(cat /sys/block/vdb/size) sha=$(sha256sum /dev/vdb | cut -d' ' -f1)"
          if dd if=/dev/zero of=/dev/vdb bs=512 count=1 2>/dev/null; then echo "VT vdb write succeeded"; else echo "VT vdb write refused"; fi
          echo "VT waiting-input"
          read -r line
          echo "VT input [$line]"
          seq 1 20000 > /mnt/boot1.txt
          echo "VT boot1 sha=$(sha256sum /mnt/boot1.txt | cut -d' ' -f1)"
          echo "VT fstrim $(fstrim -v /mnt 2>&1)"
          umount /mnt
          echo "VT done";;
        boot2)
          echo "VT boot1 sha=$(sha256sum /mnt/boot1.txt | cut -d' ' -f1)"
          echo "written in boot 2 before sync" > /mnt/boot2.txt
          sync
          echo "VT sync-returned"
          sleep 600;;
        esac
        """;
}

public sealed partial class VirtioGuestImage
{
    /// <summary>
    /// The guest side of the virtio-net test (run=/net-test.sh nt=server|client nt_ip=ADDR, with net=off so
    /// that /init leaves eth0 alone). Every line it prints starts with "NT ". The server serves a file of
    /// random bytes over HTTP; the client pings it and fetches the file.
    /// </summary>
    public const string NetScript = """
        #!/bin/sh
        arg() { for w in $(cat /proc/cmdline); do case $w in "$1="*) echo "${w#*=}"; return;; esac; done; }
        role=$(arg nt)
        ip addr add "$(arg nt_ip)/24" dev eth0
        ip link set eth0 up
        echo "NT up $role mac=$(cat /sys/class/net/eth0/address) features=$(cat /sys/bus/virtio/devices/*/features | head -c 40)"
        case $role in
        server)
          mkdir -p /www
          head -c 524288 /dev/urandom > /www/file
          echo "NT sha $(sha256sum /www/file | cut -d' ' -f1)"
          httpd -p 8080 -h /www
          echo "NT serving"
          sleep 600;;
        client)
          i=0; until ping -c 1 -W 2 10.0.2.1 >/dev/null 2>&1 || [ $i -ge 60 ]; do i=$((i+1)); done
          if ping -c 3 -W 5 10.0.2.1 > /tmp/ping 2>&1; then echo "NT ping ok"; else echo "NT ping failed"; fi
          sed 's/^/NT ping: /' /tmp/ping
          i=0; until wget -q -O /tmp/file http://10.0.2.1:8080/file || [ $i -ge 60 ]; do sleep 1; i=$((i+1)); done
          echo "NT sha $(sha256sum /tmp/file | cut -d' ' -f1)"
          echo "NT done";;
        esac
        """;
}

/// <summary>Writes a cpio archive in the "newc" format the kernel's initramfs unpacker reads.</summary>
public static class NewcArchive
{
    public static byte[] Build(IEnumerable<(string Name, int Mode, byte[] Data)> files)
    {
        var output = new MemoryStream();
        int inode = 1;
        foreach (var (name, mode, data) in files) Entry(output, name, mode, data, inode++);
        Entry(output, "TRAILER!!!", 0, [], 0);
        return output.ToArray();
    }

    private static void Entry(Stream output, string name, int mode, byte[] data, int inode)
    {
        byte[] nameBytes = Encoding.ASCII.GetBytes(name + "\0");
        var header = new StringBuilder("070701");
        foreach (long field in new long[] { inode, mode, 0, 0, 1, 0, data.Length, 0, 0, 0, 0, nameBytes.Length, 0 })
            header.Append(field.ToString("x8"));
        output.Write(Encoding.ASCII.GetBytes(header.ToString()));
        output.Write(nameBytes);
        Pad(output);
        output.Write(data);
        Pad(output);
    }

    private static void Pad(Stream output)
    {
        while (output.Position % 4 != 0) output.WriteByte(0);
    }
}
