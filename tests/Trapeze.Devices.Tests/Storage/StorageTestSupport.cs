using System.Buffers.Binary;
using Trapeze.Devices.Storage;

namespace Trapeze.Devices.Tests.Storage;

/// <summary>A temporary directory for one test, removed afterwards.</summary>
internal sealed class ScratchDir : IDisposable
{
    public ScratchDir() => Path = Directory.CreateTempSubdirectory("trapeze-disk-").FullName;

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}

internal static class StorageTestSupport
{
    public static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(60);

    /// <summary>Runs qemu-img (or qemu-io) and fails the test with its output on a non-zero exit.</summary>
    public static string Qemu(string tool, params string[] args)
    {
        var (code, stdout, stderr) = ExternalTools.Run(tool, ToolTimeout, args);
        Assert.True(code == 0, $"{tool} {string.Join(' ', args)} exited {code}\n{stdout}\n{stderr}");
        return stdout;
    }

    /// <summary>qemu-img check: no errors and no leaks.</summary>
    public static void AssertCheckClean(string image)
    {
        var (code, stdout, stderr) = ExternalTools.Run("qemu-img", ToolTimeout, "check", image);
        Assert.True(code == 0, $"qemu-img check {image} exited {code}\n{stdout}\n{stderr}");
        Assert.Contains("No errors were found", stdout);
    }

    /// <summary>qemu-img compare (contents, size mismatches allowed when the tail is zero).</summary>
    public static void AssertSameContents(string a, string b)
    {
        var (code, stdout, stderr) = ExternalTools.Run("qemu-img", ToolTimeout, "compare", a, b);
        Assert.True(code == 0, $"qemu-img compare {a} {b} exited {code}\n{stdout}\n{stderr}");
    }

    public static byte[] ReadAll(IDiskImage image)
    {
        byte[] all = new byte[image.Length];
        image.Read(0, all);
        return all;
    }

    public static byte[] Pattern(int length, int seed)
    {
        byte[] data = new byte[length];
        new Random(seed).NextBytes(data);
        return data;
    }

    public static void Patch(string path, long offset, ReadOnlySpan<byte> bytes)
    {
        using var file = System.IO.File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        RandomAccess.Write(file, bytes, offset);
    }

    public static void Patch32(string path, long offset, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(b, value);
        Patch(path, offset, b);
    }

    public static void Patch64(string path, long offset, ulong value)
    {
        Span<byte> b = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(b, value);
        Patch(path, offset, b);
    }

    public static ulong Read64(string path, long offset)
    {
        using var file = System.IO.File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        Span<byte> b = stackalloc byte[8];
        RandomAccess.Read(file, b, offset);
        return BinaryPrimitives.ReadUInt64BigEndian(b);
    }

    /// <summary>The L2 entry for a guest offset, read from the file as a third party would.</summary>
    public static (long EntryOffset, ulong Entry) L2Entry(string path, ulong guestOffset)
    {
        int clusterBits = (int)(Read64(path, 16) & 0xffff_ffff);
        ulong l1Offset = Read64(path, 40);
        ulong l1Index = guestOffset >> (2 * clusterBits - 3);
        ulong l2 = Read64(path, (long)(l1Offset + l1Index * 8)) & 0x00ff_ffff_ffff_fe00;
        Assert.NotEqual(0UL, l2);
        long at = (long)(l2 + ((guestOffset >> clusterBits) & ((1UL << (clusterBits - 3)) - 1)) * 8);
        return (at, Read64(path, at));
    }

    /// <summary>A random walk of writes, zeroes and discards, checked against a plain array after each
    /// reopen. Discarded ranges read as zeroes in images without a backing file.</summary>
    public static void RandomOperations(string path, byte[] model, int seed, int operations, int maxLength, Func<IDiskImage> open)
    {
        var random = new Random(seed);
        IDiskImage image = open();
        try
        {
            for (int i = 0; i < operations; i++)
            {
                int length = random.Next(1, maxLength);
                ulong offset = (ulong)random.NextInt64(0, model.Length - length);
                switch (random.Next(10))
                {
                    case < 6:
                        byte[] data = new byte[length];
                        random.NextBytes(data);
                        image.Write(offset, data);
                        data.CopyTo(model, (int)offset);
                        break;
                    case 6 or 7:
                        image.WriteZeroes(offset, (ulong)length, random.Next(2) == 0);
                        Array.Clear(model, (int)offset, length);
                        break;
                    case 8:
                        image.Discard(offset, (ulong)length);
                        byte[] now = new byte[length];
                        image.Read(offset, now);
                        for (int j = 0; j < length; j++)
                            Assert.True(now[j] == 0 || now[j] == model[(int)offset + j], "discard made up data");
                        now.CopyTo(model, (int)offset); // discard leaves old data or zeroes: record which
                        break;
                    default:
                        image.Flush();
                        if (random.Next(3) == 0)
                        {
                            image.Dispose();
                            image = open();
                        }
                        break;
                }
                if (i % 16 == 0)
                {
                    int check = random.Next(1, maxLength);
                    ulong at = (ulong)random.NextInt64(0, model.Length - check);
                    byte[] read = new byte[check];
                    image.Read(at, read);
                    Assert.True(read.AsSpan().SequenceEqual(model.AsSpan((int)at, check)), $"operation {i}: mismatch at {at}");
                }
            }
        }
        finally
        {
            image.Dispose();
        }
        using IDiskImage reopened = open();
        Assert.True(ReadAll(reopened).AsSpan().SequenceEqual(model), "contents differ after reopening");
    }
}
