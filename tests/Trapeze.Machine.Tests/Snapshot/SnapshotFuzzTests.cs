using System.Buffers.Binary;
using System.IO.Hashing;
using Trapeze.Machine.Snapshot;

namespace Trapeze.Machine.Tests.Snapshot;

/// <summary>
/// The snapshot loader against hostile input: random bytes, a real snapshot cut at every section boundary (and
/// inside sections), bytes of it changed at random — with the checksums left as they are, and recomputed so that
/// the section decoders themselves see the damage. Each attempt ends in a clean <see cref="SnapshotException"/>
/// (or, for a recomputed checksum over a harmless change, in success), never in another exception, and
/// allocates a bounded amount of memory.
/// </summary>
public sealed class SnapshotFuzzTests : IClassFixture<SnapshotFuzzTests.Fixture>
{
    /// <summary>A paused 2-hart machine with every kind of section (UART input pending, virtio slots) and its snapshot.</summary>
    public sealed class Fixture : IDisposable
    {
        public Fixture()
        {
            Source = new SnapshotTestMachine(SnapshotTestMachine.CountingLoop, harts: 2);
            Source.Machine.Uart.TryEnqueueInput("pending input"u8);
            Source.Start();
            Source.WaitForA0(10_000);
            Source.Machine.Pause();
            var ms = new MemoryStream();
            MachineSnapshot.Save(Source.Machine, ms);
            Snapshot = ms.ToArray();
            Target = new SnapshotTestMachine(SnapshotTestMachine.CountingLoop, harts: 2, load: false);
            Target.Machine.Pause();
        }

        public SnapshotTestMachine Source { get; }
        public SnapshotTestMachine Target { get; }
        public byte[] Snapshot { get; }

        public void Dispose()
        {
            Target.Dispose();
            Source.Dispose();
        }
    }

    /// <summary>The section reader's buffer, the RAM chunk buffers and the decoded states stay far below this.</summary>
    private const long AllocationBound = 48L << 20;

    private readonly Fixture _f;

    public SnapshotFuzzTests(Fixture f) => _f = f;

    /// <summary>Restores <paramref name="data"/>; returns the refusal, or null if it was accepted.</summary>
    private SnapshotException? Attempt(byte[] data)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        SnapshotException? refusal = null;
        try
        {
            MachineSnapshot.Restore(_f.Target.Machine, new MemoryStream(data, writable: false));
        }
        catch (SnapshotException e)
        {
            refusal = e;
            Assert.False(string.IsNullOrEmpty(e.Message));
            Assert.DoesNotContain('\n', e.Message);
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(allocated < AllocationBound, $"{allocated} bytes allocated for a {data.Length}-byte input");
        return refusal;
    }

    /// <summary>Offsets where each section starts, then the end marker's and the trailer's.</summary>
    private static List<int> SectionBoundaries(byte[] s)
    {
        var offsets = new List<int>();
        int p = 16;
        while (true)
        {
            offsets.Add(p);
            uint tag = BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(p));
            int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(p + 4));
            p += 8 + length + 8;
            if (tag == uint.MaxValue) break;
        }
        offsets.Add(p);
        Assert.Equal(s.Length, p + 8);
        return offsets;
    }

    /// <summary>Recomputes every section hash and the file hash, so that a change reaches the decoders.</summary>
    private static void RepairChecksums(byte[] s)
    {
        int p = 16;
        while (p + 8 <= s.Length - 8)
        {
            uint tag = BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(p));
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(p + 4));
            if (length > (uint)(s.Length - 8 - p - 16)) return; // a mutated length: leave the rest
            var payload = s.AsSpan(p + 8, (int)length);
            BinaryPrimitives.WriteUInt64LittleEndian(s.AsSpan(p + 8 + (int)length), XxHash3.HashToUInt64(payload));
            p += 16 + (int)length;
            if (tag == uint.MaxValue) break;
        }
        BinaryPrimitives.WriteUInt64LittleEndian(s.AsSpan(s.Length - 8), XxHash3.HashToUInt64(s.AsSpan(0, s.Length - 8)));
    }

    [Fact]
    public void The_real_snapshot_is_accepted()
    {
        Assert.Null(Attempt(_f.Snapshot));
        Assert.True(SectionBoundaries(_f.Snapshot).Count > 15);
    }

    [Fact]
    public void Foreign_snapshots_are_refused_with_a_precise_message()
    {
        byte[] s = (byte[])_f.Snapshot.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(s.AsSpan(8), 2);
        Assert.Equal("snapshot format version 2 is not supported (this build reads version 1)", Attempt(s)!.Message);

        s = (byte[])_f.Snapshot.Clone();
        s[16 + 8 + 20] ^= 1; // the hart layout fingerprint in the machine description
        RepairChecksums(s);
        Assert.Equal("snapshot was taken by a Trapeze build whose hart state has another layout", Attempt(s)!.Message);

        s = (byte[])_f.Snapshot.Clone();
        s[16 + 8 + 3] ^= 1; // a payload byte of the description, checksum left alone
        Assert.Equal("snapshot section 'machine description' is corrupt (checksum mismatch)", Attempt(s)!.Message);

        s = (byte[])_f.Snapshot.Clone();
        s[^1] ^= 1;
        Assert.Equal("snapshot is corrupt (file checksum mismatch)", Attempt(s)!.Message);

        Assert.Equal("snapshot ends before its 'rtc' section", Attempt(WithoutSection(_f.Snapshot, tag: 7))!.Message);
        List<int> b = SectionBoundaries(_f.Snapshot);
        Assert.Equal("snapshot is truncated (in a section header)", Attempt(_f.Snapshot[..b[^2]])!.Message);
        Assert.Equal("snapshot is truncated (in the file checksum)", Attempt(_f.Snapshot[..b[^1]])!.Message);
        Assert.Equal("snapshot is truncated (in section 'ram')", Attempt(_f.Snapshot[..(b[^2] - 100)])!.Message);
    }

    /// <summary>The snapshot without its first section of <paramref name="tag"/> and all after it but the end marker.</summary>
    private static byte[] WithoutSection(byte[] s, uint tag)
    {
        List<int> b = SectionBoundaries(s);
        int cut = b.First(o => BinaryPrimitives.ReadUInt32LittleEndian(s.AsSpan(o)) == tag);
        byte[] result = [.. s[..cut], .. s[b[^2]..]];
        RepairChecksums(result);
        return result;
    }

    [Fact]
    public void Random_bytes_are_refused()
    {
        var rng = new Random(5);
        for (int i = 0; i < 300; i++)
        {
            var data = new byte[rng.Next(0, 2048)];
            rng.NextBytes(data);
            if (i % 2 == 0 && data.Length >= 16)
            {
                // A valid header, so that the section reader gets random sections.
                _f.Snapshot.AsSpan(0, 16).CopyTo(data);
            }
            Assert.NotNull(Attempt(data));
        }
    }

    [Fact]
    public void A_snapshot_cut_anywhere_is_refused()
    {
        byte[] s = _f.Snapshot;
        var cuts = new SortedSet<int> { 0, 1, 7, 8, 12, 15, 16 };
        foreach (int b in SectionBoundaries(s))
        {
            foreach (int d in new[] { -9, -8, -1, 0, 1, 4, 7, 8, 9, 20 })
                if (b + d > 0 && b + d < s.Length) cuts.Add(b + d);
        }
        cuts.Add(s.Length - 1);
        foreach (int cut in cuts)
        {
            var e = Attempt(s[..cut]);
            Assert.True(e != null, $"a snapshot cut at {cut} of {s.Length} was accepted");
        }
        // Through the file path too: the checksum pass refuses before anything is read.
        string path = Path.Combine(Path.GetTempPath(), $"trapeze-fuzz-{Environment.ProcessId}.snap");
        try
        {
            File.WriteAllBytes(path, s[..(s.Length / 2)]);
            Assert.Throws<SnapshotException>(() => MachineSnapshot.Restore(_f.Target.Machine, path));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Changed_bytes_are_refused_by_the_checksums()
    {
        var rng = new Random(11);
        for (int i = 0; i < 200; i++)
        {
            byte[] s = (byte[])_f.Snapshot.Clone();
            int changes = rng.Next(1, 4);
            for (int k = 0; k < changes; k++) s[rng.Next(s.Length)] ^= (byte)rng.Next(1, 256);
            Assert.NotNull(Attempt(s));
        }
    }

    [Fact]
    public void Changed_bytes_behind_repaired_checksums_are_refused_or_harmless()
    {
        var rng = new Random(17);
        byte[] original = _f.Snapshot;
        List<int> boundaries = SectionBoundaries(original);
        // Most of the file is compressed RAM: aim half the changes at the small sections before it.
        int statesEnd = boundaries[0];
        for (int i = 0; i < boundaries.Count - 1; i++)
            if (BinaryPrimitives.ReadUInt32LittleEndian(original.AsSpan(boundaries[i])) != 10) statesEnd = boundaries[i + 1];
            else break;
        int refused = 0;
        for (int i = 0; i < 600; i++)
        {
            byte[] s = (byte[])original.Clone();
            int changes = rng.Next(1, 3);
            for (int k = 0; k < changes; k++)
            {
                int at = i % 2 == 0 ? rng.Next(16, statesEnd) : rng.Next(16, s.Length - 8);
                s[at] = rng.Next(3) switch { 0 => (byte)(s[at] ^ (1 << rng.Next(8))), 1 => 0xff, _ => (byte)rng.Next(256) };
            }
            RepairChecksums(s);
            if (Attempt(s) != null) refused++;
        }
        Assert.True(refused > 100, $"only {refused} of 600 damaged snapshots were refused");
        // The machine still takes a good snapshot after all that.
        Assert.Null(Attempt(original));
    }
}
