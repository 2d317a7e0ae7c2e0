using System.Buffers.Binary;
using Trapeze.Devices.Storage;
using Xunit.Abstractions;

namespace Trapeze.Devices.Tests.Storage;

/// <summary>
/// Mutated and random qcow2 files: opening either fails with a <see cref="DiskImageException"/> or gives an
/// image on which reads, writes, zeroes, discards, flushes and growth either work or fail with an
/// <see cref="IOException"/> — never another exception, never a hang, never a large allocation or a huge
/// file. Deterministic seeds; TRAPEZE_FUZZ_CASES raises the number of cases.
/// </summary>
public sealed class Qcow2FuzzTests(ITestOutputHelper output)
{
    private const long MaxAllocationPerCase = 80L << 20;
    private const long MaxFileLength = 512L << 20;

    private static int Cases => int.TryParse(Environment.GetEnvironmentVariable("TRAPEZE_FUZZ_CASES"), out int n) && n > 0 ? n : 300;

    [Fact]
    public void Mutated_and_random_images_fail_cleanly_or_work()
    {
        using var dir = new ScratchDir();
        File.WriteAllBytes(dir.File("base.raw"), Enumerable.Range(0, 1 << 20).Select(i => (byte)i).ToArray());
        var seeds = new List<byte[]> { Seed(dir, 4096, null), Seed(dir, 512, null), Seed(dir, 65536, "base.raw"), Seed(dir, 4096, "base.raw") };
        int cases = Cases;
        int opened = 0, refused = 0, ioErrors = 0;
        int current = -1;
        Exception? failure = null;
        var worker = new Thread(() =>
        {
            try
            {
                for (int i = 0; i < cases; i++)
                {
                    Volatile.Write(ref current, i);
                    var random = new Random(i);
                    byte[] file = Mutate(random, seeds[i % seeds.Count]);
                    string path = dir.File($"case{i % 4}.qcow2");
                    File.WriteAllBytes(path, file);
                    long before = GC.GetAllocatedBytesForCurrentThread();
                    switch (RunCase(random, path))
                    {
                        case Outcome.Refused: refused++; break;
                        case Outcome.IoError: opened++; ioErrors++; break;
                        default: opened++; break;
                    }
                    long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                    if (allocated > MaxAllocationPerCase) throw new InvalidOperationException($"case {i}: allocated {allocated >> 20} MiB");
                    long length = new FileInfo(path).Length;
                    if (length > MaxFileLength) throw new InvalidOperationException($"case {i}: the file grew to {length} bytes");
                }
            }
            catch (Exception e)
            {
                failure = e;
            }
        }, 16 << 20);
        worker.Start();
        if (!worker.Join(TimeSpan.FromSeconds(120))) Assert.Fail($"case {Volatile.Read(ref current)} hangs");
        if (failure != null) Assert.Fail($"case {current}: {failure}");
        output.WriteLine($"{cases} cases: {refused} refused at open, {opened} opened ({ioErrors} with I/O errors later)");
        Assert.True(opened > cases / 10, "almost every mutation was refused: the fuzzer is not reaching the tables");
    }

    private enum Outcome { Refused, Worked, IoError }

    private static Outcome RunCase(Random random, string path)
    {
        bool readOnly = random.Next(4) == 0;
        Qcow2Image image;
        try
        {
            image = Qcow2Image.Open(path, new Qcow2OpenOptions { ReadOnly = readOnly });
        }
        catch (DiskImageException)
        {
            return Outcome.Refused;
        }
        Outcome outcome = Outcome.Worked;
        using (image)
        {
            ulong length = image.Length;
            byte[] buffer = new byte[256 << 10];
            for (int op = 0; op < 24 && length > 0; op++)
            {
                int n = random.Next(1, buffer.Length);
                ulong offset = RandomOffset(random, length, (ulong)n);
                n = (int)Math.Min((ulong)n, length - offset);
                try
                {
                    switch (random.Next(8))
                    {
                        case 0 or 1 or 2: image.Read(offset, buffer.AsSpan(0, n)); break;
                        case 3 or 4: random.NextBytes(buffer.AsSpan(0, n)); image.Write(offset, buffer.AsSpan(0, n)); break;
                        case 5: image.WriteZeroes(offset, (ulong)n, random.Next(2) == 0); break;
                        case 6: image.Discard(offset, (ulong)n); break;
                        default:
                            if (random.Next(4) == 0 && !readOnly) image.Grow(length + (ulong)random.Next(0, 1 << 24) / 512 * 512);
                            else image.Flush();
                            break;
                    }
                }
                catch (IOException)
                {
                    outcome = Outcome.IoError;
                }
                catch (DiskImageException) when (!readOnly)
                {
                    outcome = Outcome.IoError; // Grow refusing (too large for the L1 limit)
                }
            }
        }
        return outcome;
    }

    private static ulong RandomOffset(Random random, ulong length, ulong n)
    {
        ulong span = length > n ? length - n : 0;
        return random.Next(3) switch
        {
            0 => 0,
            1 => span,
            _ => (ulong)random.NextInt64(0, (long)Math.Min(span, long.MaxValue - 1) + 1),
        };
    }

    /// <summary>A small valid image with data, zero clusters, a few L2 tables and maybe a backing file.</summary>
    private static byte[] Seed(ScratchDir dir, int clusterSize, string? backing)
    {
        string path = dir.File($"seed-{clusterSize}-{backing != null}.qcow2");
        Qcow2Image.Create(path, 2 << 20, clusterSize, backing, backing != null ? "raw" : null);
        using (var image = Qcow2Image.Open(path))
        {
            var random = new Random(clusterSize);
            for (int i = 0; i < 20; i++)
            {
                byte[] data = new byte[random.Next(1, 3 * clusterSize)];
                random.NextBytes(data);
                image.Write((ulong)random.Next(0, (2 << 20) - data.Length), data);
            }
            image.WriteZeroes(0, (ulong)clusterSize, mayUnmap: false);
            image.Discard((ulong)clusterSize * 4, (ulong)clusterSize);
        }
        return File.ReadAllBytes(path);
    }

    private static readonly ulong[] Interesting =
        [0, 1, 8, 511, 512, 4096, 65536, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff, 1UL << 32, 1UL << 40, 1UL << 55, 1UL << 56,
         1UL << 62, 1UL << 63, ulong.MaxValue, ulong.MaxValue - 511, 0x00ff_ffff_ffff_fe00];

    private static byte[] Mutate(Random random, byte[] seed)
    {
        int kind = random.Next(10);
        if (kind == 0)
        {
            // Random bytes behind a plausible header start.
            byte[] junk = new byte[random.Next(72, 64 << 10)];
            random.NextBytes(junk);
            seed.AsSpan(0, 8).CopyTo(junk);
            if (random.Next(2) == 0) seed.AsSpan(8, 96).CopyTo(junk.AsSpan(8));
            return junk;
        }
        byte[] file = (byte[])seed.Clone();
        int mutations = random.Next(1, 6);
        for (int m = 0; m < mutations; m++)
        {
            switch (random.Next(7))
            {
                case 0: // a header field set to an interesting value
                {
                    int at = random.Next(1, 14) * 8;
                    ulong v = Interesting[random.Next(Interesting.Length)] + (ulong)random.Next(-1, 2);
                    if (random.Next(2) == 0) BinaryPrimitives.WriteUInt32BigEndian(file.AsSpan(at + random.Next(2) * 4), (uint)v);
                    else BinaryPrimitives.WriteUInt64BigEndian(file.AsSpan(at), v);
                    break;
                }
                case 1: // bit flips in the header cluster
                    for (int k = random.Next(1, 8); k > 0; k--) file[random.Next(Math.Min(file.Length, 512))] ^= (byte)(1 << random.Next(8));
                    break;
                case 2 or 3: // a table entry anywhere (L1, refcount table, refcount blocks, L2) set to something
                {
                    int at = random.Next(file.Length / 8) * 8;
                    ulong v = random.Next(3) switch
                    {
                        0 => Interesting[random.Next(Interesting.Length)],
                        1 => ((ulong)random.Next(0, file.Length * 2) & ~511UL) | (random.Next(2) == 0 ? Qcow2Image.FlagCopied : 0),
                        _ => (ulong)random.NextInt64(),
                    };
                    BinaryPrimitives.WriteUInt64BigEndian(file.AsSpan(at), v);
                    break;
                }
                case 4: // 16-bit refcounts garbled
                {
                    int at = random.Next(file.Length / 2) * 2;
                    BinaryPrimitives.WriteUInt16BigEndian(file.AsSpan(at), (ushort)random.Next(0, 3));
                    break;
                }
                case 5: // truncated
                    Array.Resize(ref file, random.Next(72, file.Length));
                    break;
                default: // random bytes somewhere
                    for (int k = random.Next(1, 64); k > 0; k--) file[random.Next(file.Length)] = (byte)random.Next(256);
                    break;
            }
        }
        return file;
    }
}
