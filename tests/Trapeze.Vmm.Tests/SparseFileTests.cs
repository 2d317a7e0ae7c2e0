using Microsoft.Win32.SafeHandles;

namespace Trapeze.Vmm.Tests;

/// <summary>The sparse copy and fingerprint behind bundle snapshots' disk copies.</summary>
public sealed class SparseFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("trapeze-sparse-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string Make(string name, long length, params (long Offset, byte Value, int Count)[] data)
    {
        string path = Path.Combine(_dir, name);
        using SafeFileHandle f = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite);
        RandomAccess.SetLength(f, length);
        foreach (var (offset, value, count) in data)
        {
            byte[] bytes = new byte[count];
            Array.Fill(bytes, value);
            RandomAccess.Write(f, bytes, offset);
        }
        return path;
    }

    [Fact]
    public void A_copy_has_the_contents_and_fingerprint_of_its_source_and_stays_sparse()
    {
        // 64 MiB with three small islands of data, one across a chunk boundary, one at the very end.
        long length = 64L << 20;
        string source = Make("src", length, (4096, 0x11, 100), (65536 * 3 - 10, 0x22, 20), (length - 7, 0x33, 7));
        string copy = Path.Combine(_dir, "copy");
        ulong hash = SparseFile.Copy(source, copy);
        Assert.Equal(File.ReadAllBytes(source), File.ReadAllBytes(copy));
        Assert.Equal(hash, SparseFile.Fingerprint(source));
        Assert.Equal(hash, SparseFile.Fingerprint(copy));
        // Allocated: a few chunks, not the whole file.
        Assert.True(AllocatedBytes(copy) < 1 << 20, $"the copy holds {AllocatedBytes(copy)} bytes of data");
        Assert.Throws<IOException>(() => SparseFile.Copy(source, copy));
    }

    [Fact]
    public void The_fingerprint_depends_on_the_contents_only()
    {
        // The same contents, one file with holes and one with the zeroes written out: one fingerprint.
        string holes = Make("holes", 1 << 20, (300_000, 0x44, 10));
        string written = Make("written", 1 << 20, (0, 0, 1 << 20), (300_000, 0x44, 10));
        Assert.Equal(SparseFile.Fingerprint(holes), SparseFile.Fingerprint(written));
        // One byte changed, or the length changed: another fingerprint.
        string changed = Make("changed", 1 << 20, (300_000, 0x44, 10), (300_010, 0x01, 1));
        Assert.NotEqual(SparseFile.Fingerprint(holes), SparseFile.Fingerprint(changed));
        string longer = Make("longer", (1 << 20) + 512, (300_000, 0x44, 10));
        Assert.NotEqual(SparseFile.Fingerprint(holes), SparseFile.Fingerprint(longer));
    }

    [Fact]
    public void A_locked_source_is_still_read()
    {
        // A running VM process holds its writable disks with an exclusive lock.
        string source = Make("locked", 1 << 16, (10, 0x55, 10));
        using var held = new FileStream(source, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        string copy = Path.Combine(_dir, "copy-of-locked");
        SparseFile.Copy(source, copy);
        Assert.Equal(0x55, File.ReadAllBytes(copy)[10]);
    }

    private static long AllocatedBytes(string path)
    {
        var r = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%b %B", path]) { RedirectStandardOutput = true })!;
        string[] f = r.StandardOutput.ReadToEnd().Split(' ', StringSplitOptions.TrimEntries);
        r.WaitForExit();
        return long.Parse(f[0], System.Globalization.CultureInfo.InvariantCulture) * long.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture);
    }
}
