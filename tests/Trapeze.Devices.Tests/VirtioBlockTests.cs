using System.Buffers.Binary;
using System.Text;
using Trapeze.Devices.Storage;
using Trapeze.Devices.Virtio;
using Trapeze.Devices.Virtio.Block;

namespace Trapeze.Devices.Tests;

/// <summary>virtio-blk (virtio 1.2 §5.2) over a real temporary raw image, driven through the transport.</summary>
public sealed class VirtioBlockTests : IDisposable
{
    private const int DiskBytes = 1 << 20;
    private const ulong Sectors = DiskBytes / 512;
    private readonly string _dir = Directory.CreateTempSubdirectory("trapeze-blk-").FullName;
    private readonly string _path;
    private readonly FakeGuestRam _ram = new(4 << 20);
    private readonly FakeIrqSink _sink = new();
    private VirtioMmioTransport? _transport;

    public VirtioBlockTests()
    {
        _path = Path.Combine(_dir, "disk.img");
        var data = new byte[DiskBytes];
        for (int i = 0; i < data.Length; i++) data[i] = (byte)(i / 512 * 7 + i);
        File.WriteAllBytes(_path, data);
    }

    public void Dispose()
    {
        _transport?.Dispose();
        _ram.Dispose();
        Directory.Delete(_dir, true);
    }

    private DriverQueue Start(bool readOnly = false, string? serial = null, ulong? features = null)
    {
        var device = new VirtioBlock(RawDiskImage.Open(_path, readOnly), serial);
        _transport = new VirtioMmioTransport("virtio-blk-test", _ram.Memory, _sink.Line(1), device);
        var driver = new TestDriver(_transport, _ram);
        return driver.Start(features)[0];
    }

    private ulong Header(uint type, ulong sector)
    {
        ulong h = _ram.Alloc(16);
        _ram.WriteU32(h, type);
        _ram.WriteU32(h + 4, 0);
        _ram.WriteU64(h + 8, sector);
        return h;
    }

    private byte StatusAt(ulong status) => _ram.Span(status, 1)[0];

    private static byte[] Expected(long offset, int length)
    {
        var b = new byte[length];
        for (int i = 0; i < length; i++) b[i] = (byte)((offset + i) / 512 * 7 + offset + i);
        return b;
    }

    private byte[] FileBytes(long offset, int length)
    {
        using var f = File.OpenRead(_path);
        var b = new byte[length];
        f.Position = offset;
        f.ReadExactly(b);
        return b;
    }

    /// <summary>Sends a request (optionally as an indirect chain) and returns (status, used length).</summary>
    private (byte Status, uint Len) Request(DriverQueue q, uint type, ulong sector, Buffer[] data, bool indirect = false)
    {
        ulong status = _ram.Alloc(1, 1);
        _ram.Span(status, 1)[0] = 0xee;
        Buffer[] chain = [Buffer.Out(Header(type, sector), 16), .. data, Buffer.In(status, 1)];
        q.Add(indirect, chain);
        var (_, len) = q.Complete();
        return (StatusAt(status), len);
    }

    [Fact]
    public void Reads_sectors_into_scattered_buffers()
    {
        DriverQueue q = Start();
        ulong a = _ram.Alloc(512), b = _ram.Alloc(1024), c = _ram.Alloc(512);
        var (status, len) = Request(q, VirtioBlock.TypeIn, 10, [Buffer.In(a, 512), Buffer.In(b, 1024), Buffer.In(c, 512)]);
        Assert.Equal(VirtioBlock.StatusOk, status);
        Assert.Equal(2049u, len);
        Assert.Equal(Expected(10 * 512, 512), _ram.Span(a, 512).ToArray());
        Assert.Equal(Expected(11 * 512, 1024), _ram.Span(b, 1024).ToArray());
        Assert.Equal(Expected(13 * 512, 512), _ram.Span(c, 512).ToArray());
    }

    [Fact]
    public void Reads_through_an_indirect_table_with_the_header_and_data_split_anyhow()
    {
        DriverQueue q = Start();
        // §2.7.4: the device may not depend on framing: header in two pieces, data and status together.
        ulong h = Header(VirtioBlock.TypeIn, 3);
        ulong dataAndStatus = _ram.Alloc(513);
        q.Add(true, Buffer.Out(h, 8), Buffer.Out(h + 8, 8), Buffer.In(dataAndStatus, 513));
        q.Complete();
        Assert.Equal(Expected(3 * 512, 512), _ram.Span(dataAndStatus, 512).ToArray());
        Assert.Equal(VirtioBlock.StatusOk, StatusAt(dataAndStatus + 512));
    }

    [Fact]
    public void Writes_reach_the_file()
    {
        DriverQueue q = Start();
        ulong a = _ram.Alloc(512), b = _ram.Alloc(512);
        _ram.Span(a, 512).Fill(0xa5);
        _ram.Span(b, 512).Fill(0x5a);
        var (status, len) = Request(q, VirtioBlock.TypeOut, Sectors - 2, [Buffer.Out(a, 512), Buffer.Out(b, 512)]);
        Assert.Equal(VirtioBlock.StatusOk, status);
        Assert.Equal(1u, len);
        _transport!.Dispose();
        _transport = null;
        Assert.All(FileBytes(DiskBytes - 1024, 512), x => Assert.Equal(0xa5, x));
        Assert.All(FileBytes(DiskBytes - 512, 512), x => Assert.Equal(0x5a, x));
        Assert.Equal(Expected(DiskBytes - 1536, 512), FileBytes(DiskBytes - 1536, 512));
    }

    [Fact]
    public void Flush_succeeds_and_is_offered()
    {
        DriverQueue q = Start();
        Assert.NotEqual(0ul, _transport!.NegotiatedFeatures & VirtioBlock.FeatureFlush);
        Assert.Equal(VirtioBlock.StatusOk, Request(q, VirtioBlock.TypeFlush, 0, []).Status);
    }

    [Fact]
    public void Flush_is_unsupported_unless_negotiated()
    {
        DriverQueue q = Start(features: VirtioFeatures.Version1);
        Assert.Equal(VirtioBlock.StatusUnsupported, Request(q, VirtioBlock.TypeFlush, 0, []).Status);
    }

    private Buffer Segments(params (ulong Sector, uint Count, uint Flags)[] segments)
    {
        ulong p = _ram.Alloc((ulong)segments.Length * 16);
        for (int i = 0; i < segments.Length; i++)
        {
            _ram.WriteU64(p + (ulong)i * 16, segments[i].Sector);
            _ram.WriteU32(p + (ulong)i * 16 + 8, segments[i].Count);
            _ram.WriteU32(p + (ulong)i * 16 + 12, segments[i].Flags);
        }
        return Buffer.Out(p, (uint)segments.Length * 16);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(1u)]
    public void Write_zeroes_makes_the_range_read_as_zero(uint unmapFlag)
    {
        DriverQueue q = Start();
        var (status, _) = Request(q, VirtioBlock.TypeWriteZeroes, 0, [Segments((8, 16, unmapFlag), (100, 1, 0))]);
        Assert.Equal(VirtioBlock.StatusOk, status);
        _transport!.Dispose();
        _transport = null;
        Assert.All(FileBytes(8 * 512, 16 * 512), x => Assert.Equal(0, x));
        Assert.All(FileBytes(100 * 512, 512), x => Assert.Equal(0, x));
        Assert.Equal(Expected(7 * 512, 512), FileBytes(7 * 512, 512));
        Assert.Equal(Expected(24 * 512, 512), FileBytes(24 * 512, 512));
        Assert.Equal(DiskBytes, new FileInfo(_path).Length);
    }

    [Fact]
    public void Discard_succeeds_and_keeps_the_file_size()
    {
        DriverQueue q = Start();
        Assert.Equal(VirtioBlock.StatusOk, Request(q, VirtioBlock.TypeDiscard, 0, [Segments((0, 64, 0))]).Status);
        _transport!.Dispose();
        _transport = null;
        Assert.Equal(DiskBytes, new FileInfo(_path).Length);
        Assert.Equal(Expected(64 * 512, 512), FileBytes(64 * 512, 512));
    }

    [Fact]
    public void Discard_and_write_zeroes_refuse_bad_segments()
    {
        DriverQueue q = Start();
        Assert.Equal(VirtioBlock.StatusUnsupported, Request(q, VirtioBlock.TypeDiscard, 0, [Segments((0, 8, 1))]).Status);
        Assert.Equal(VirtioBlock.StatusUnsupported, Request(q, VirtioBlock.TypeWriteZeroes, 0, [Segments((0, 8, 2))]).Status);
        Assert.Equal(VirtioBlock.StatusIoError, Request(q, VirtioBlock.TypeWriteZeroes, 0, [Segments((Sectors - 1, 2, 0))]).Status);
        Assert.Equal(VirtioBlock.StatusIoError, Request(q, VirtioBlock.TypeDiscard, 0, [Segments((ulong.MaxValue, 1, 0))]).Status);
        Assert.Equal(VirtioBlock.StatusUnsupported, Request(q, VirtioBlock.TypeDiscard, 0, []).Status);
        var many = Enumerable.Range(0, (int)VirtioBlock.MaxDiscardSegments + 1).Select(i => ((ulong)i, 1u, 0u)).ToArray();
        Assert.Equal(VirtioBlock.StatusIoError, Request(q, VirtioBlock.TypeDiscard, 0, [Segments(many)]).Status);
        // A bad segment after good ones: nothing is done.
        Assert.Equal(VirtioBlock.StatusIoError, Request(q, VirtioBlock.TypeWriteZeroes, 0, [Segments((0, 8, 0), (Sectors, 1, 0))]).Status);
        _transport!.Dispose();
        _transport = null;
        Assert.Equal(Expected(0, 4096), FileBytes(0, 4096));
    }

    [Fact]
    public void A_read_only_disk_says_so_and_fails_every_write()
    {
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(_path, UnixFileMode.UserRead); // must not need write permission
        DriverQueue q = Start(readOnly: true);
        Assert.NotEqual(0ul, _transport!.NegotiatedFeatures & VirtioBlock.FeatureReadOnly);
        ulong a = _ram.Alloc(512);
        _ram.Span(a, 512).Fill(0xff);
        Assert.Equal(VirtioBlock.StatusIoError, Request(q, VirtioBlock.TypeOut, 0, [Buffer.Out(a, 512)]).Status);
        Assert.Equal(VirtioBlock.StatusIoError, Request(q, VirtioBlock.TypeWriteZeroes, 0, [Segments((0, 1, 0))]).Status);
        Assert.Equal(VirtioBlock.StatusIoError, Request(q, VirtioBlock.TypeDiscard, 0, [Segments((0, 1, 0))]).Status);
        Assert.Equal(VirtioBlock.StatusOk, Request(q, VirtioBlock.TypeFlush, 0, []).Status);
        Assert.Equal(VirtioBlock.StatusOk, Request(q, VirtioBlock.TypeIn, 0, [Buffer.In(a, 512)]).Status);
        Assert.Equal(Expected(0, 512), _ram.Span(a, 512).ToArray());
        _transport.Dispose();
        _transport = null;
        Assert.Equal(Expected(0, 4096), FileBytes(0, 4096));
    }

    [Theory]
    [InlineData(Sectors, 512)]           // just past the end
    [InlineData(Sectors - 1, 1024)]      // straddles the end
    [InlineData(ulong.MaxValue, 512)]    // sector * 512 overflows
    [InlineData(ulong.MaxValue / 512 + 1, 512)]
    [InlineData(0ul, 100)]               // not whole sectors
    public void Out_of_range_or_partial_sectors_are_io_errors(ulong sector, uint length)
    {
        DriverQueue q = Start();
        ulong a = _ram.Alloc(length);
        Assert.Equal(VirtioBlock.StatusIoError, Request(q, VirtioBlock.TypeIn, sector, [Buffer.In(a, length)]).Status);
        Assert.Equal(VirtioBlock.StatusIoError, Request(q, VirtioBlock.TypeOut, sector, [Buffer.Out(a, length)]).Status);
        Assert.False(_transport!.Status.HasFlag(DeviceStatus.DeviceNeedsReset));
    }

    [Fact]
    public void Get_id_returns_the_serial()
    {
        DriverQueue q = Start(serial: "trapeze-disk-0");
        ulong id = _ram.Alloc(20);
        _ram.Span(id, 20).Fill(0xff);
        var (status, len) = Request(q, VirtioBlock.TypeGetId, 0, [Buffer.In(id, 20)]);
        Assert.Equal(VirtioBlock.StatusOk, status);
        Assert.Equal(21u, len);
        byte[] expected = new byte[20];
        Encoding.ASCII.GetBytes("trapeze-disk-0").CopyTo(expected, 0);
        Assert.Equal(expected, _ram.Span(id, 20).ToArray());
    }

    [Fact]
    public void Unknown_request_types_are_unsupported()
    {
        DriverQueue q = Start();
        Assert.Equal(VirtioBlock.StatusUnsupported, Request(q, 77, 0, []).Status);
        Assert.Equal(VirtioBlock.StatusUnsupported, Request(q, 14, 0, []).Status); // SECURE_ERASE, not offered
    }

    [Fact]
    public void A_request_without_room_for_its_status_breaks_the_queue()
    {
        DriverQueue q = Start();
        q.Add(Buffer.Out(Header(VirtioBlock.TypeFlush, 0), 16));
        q.Kick();
        Assert.True(_transport!.WaitForIdle(TimeSpan.FromSeconds(10)));
        Assert.True(_transport.Status.HasFlag(DeviceStatus.DeviceNeedsReset));
        Assert.Equal(VirtQueueError.MalformedRequest, _transport.Failure);
    }

    [Fact]
    public void A_short_header_breaks_the_queue()
    {
        DriverQueue q = Start();
        q.Add(Buffer.Out(Header(VirtioBlock.TypeIn, 0), 8), Buffer.In(_ram.Alloc(1), 1));
        q.Kick();
        Assert.True(_transport!.WaitForIdle(TimeSpan.FromSeconds(10)));
        Assert.Equal(VirtQueueError.MalformedRequest, _transport.Failure);
    }

    [Fact]
    public void Config_space_describes_the_disk()
    {
        Start();
        ulong Config(ulong offset, int size)
        {
            Assert.True(_transport!.Read(Mmio.Config + offset, size, out ulong v));
            return v;
        }
        Assert.Equal(Sectors, Config(0, 8));
        Assert.Equal((ulong)VirtioBlock.SizeMax, Config(8, 4));
        Assert.Equal(254ul, Config(12, 4)); // seg_max = queue size - 2
        Assert.Equal(512ul, Config(20, 4));
        Assert.Equal((ulong)VirtioBlock.MaxDiscardSectors, Config(36, 4));
        Assert.Equal((ulong)VirtioBlock.MaxDiscardSegments, Config(40, 4));
        Assert.Equal((ulong)VirtioBlock.DiscardSectorAlignment, Config(44, 4));
        Assert.Equal((ulong)VirtioBlock.MaxDiscardSectors, Config(48, 4));
        Assert.Equal((ulong)VirtioBlock.MaxDiscardSegments, Config(52, 4));
        Assert.Equal(1ul, Config(56, 1));
    }

    [Fact]
    public void Many_requests_in_flight_complete_in_one_batch()
    {
        DriverQueue q = Start();
        var buffers = new List<(ulong Data, ulong Status)>();
        for (int i = 0; i < 100; i++)
        {
            ulong data = _ram.Alloc(512), status = _ram.Alloc(1, 1);
            buffers.Add((data, status));
            q.Add(i % 2 == 0, Buffer.Out(Header(VirtioBlock.TypeIn, (ulong)i), 16), Buffer.In(data, 512), Buffer.In(status, 1));
        }
        q.Kick();
        q.WaitUsed(100);
        for (int i = 0; i < 100; i++)
        {
            Assert.Equal(VirtioBlock.StatusOk, StatusAt(buffers[i].Status));
            Assert.Equal(Expected(i * 512, 512), _ram.Span(buffers[i].Data, 512).ToArray());
        }
    }

    [Fact]
    public void Opening_a_missing_or_unusable_image_is_a_clear_error()
    {
        var missing = Assert.Throws<DiskImageException>(() => RawDiskImage.Open(Path.Combine(_dir, "nope.img"), false));
        Assert.Contains("does not exist", missing.Message);
        var directory = Assert.Throws<DiskImageException>(() => RawDiskImage.Open(_dir, false));
        Assert.Contains("directory", directory.Message);
        using (RawDiskImage.Open(_path, false))
        {
            var locked = Assert.Throws<DiskImageException>(() => RawDiskImage.Open(_path, false));
            Assert.Contains("another machine", locked.Message);
        }
        // Read-only users share the image.
        using var first = RawDiskImage.Open(_path, true);
        using var second = RawDiskImage.Open(_path, true);
        Assert.Equal((ulong)DiskBytes, second.Length);
        Assert.DoesNotContain('\n', missing.Message);
    }

    [Fact]
    public void Read_only_image_without_write_permission_for_read_write_is_refused_with_a_hint()
    {
        if (Environment.UserName == "root") return; // root may write anything
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(_path, UnixFileMode.UserRead);
        var e = Assert.Throws<DiskImageException>(() => RawDiskImage.Open(_path, false));
        Assert.Contains("readonly=on", e.Message);
    }

    [Fact]
    public void Capacity_ignores_a_partial_last_sector()
    {
        File.WriteAllBytes(_path, new byte[1000]);
        using var device = new VirtioBlock(RawDiskImage.Open(_path, false));
        Assert.Equal(1ul, device.Capacity);
        Span<byte> config = stackalloc byte[8];
        device.ReadConfig(0, config);
        Assert.Equal(1ul, BinaryPrimitives.ReadUInt64LittleEndian(config));
    }
}
