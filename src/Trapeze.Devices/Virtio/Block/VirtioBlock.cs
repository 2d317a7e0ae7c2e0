using System.Buffers.Binary;
using System.Text;
using Trapeze.Devices.Storage;

namespace Trapeze.Devices.Virtio.Block;

/// <summary>
/// virtio-blk (virtio 1.2 §5.2) over a disk image: one request queue; reads and writes go between the
/// image and the guest's buffers directly, one descriptor at a time (no bounce buffer, so request size
/// costs no host memory); FLUSH is fdatasync; DISCARD punches holes; WRITE_ZEROES punches holes or writes
/// zeroes; GET_ID returns the serial; a read-only image offers VIRTIO_BLK_F_RO and fails writes.
/// Requests the device can answer get a status byte (OK, IOERR for out-of-range or failed I/O, UNSUPP
/// for unknown types or flags); a request with no room for a header or a status breaks the queue
/// (DEVICE_NEEDS_RESET), as QEMU does.
/// </summary>
public sealed class VirtioBlock : IVirtioDevice, IDisposable
{
    public const int SectorSize = 512;
    public const ushort DefaultQueueSize = 256;
    /// <summary>§5.2.6: VIRTIO_BLK_ID_BYTES.</summary>
    public const int IdBytes = 20;

    // §5.2.3 feature bits
    public const ulong FeatureSizeMax = 1UL << 1;
    public const ulong FeatureSegMax = 1UL << 2;
    public const ulong FeatureReadOnly = 1UL << 5;
    public const ulong FeatureBlockSize = 1UL << 6;
    public const ulong FeatureFlush = 1UL << 9;
    public const ulong FeatureDiscard = 1UL << 13;
    public const ulong FeatureWriteZeroes = 1UL << 14;

    // §5.2.6 request types and status values
    public const uint TypeIn = 0, TypeOut = 1, TypeFlush = 4, TypeGetId = 8, TypeDiscard = 11, TypeWriteZeroes = 13;
    public const byte StatusOk = 0, StatusIoError = 1, StatusUnsupported = 2;

    /// <summary>Largest single descriptor the driver may use (size_max).</summary>
    public const uint SizeMax = 1 << 20;
    /// <summary>max_discard_sectors / max_write_zeroes_sectors (QEMU's default, just under 2 GiB).</summary>
    public const uint MaxDiscardSectors = 0x3f_ffff;
    /// <summary>max_discard_seg / max_write_zeroes_seg.</summary>
    public const uint MaxDiscardSegments = 16;
    /// <summary>discard_sector_alignment: 4 KiB, the granularity of a hole in the host file.</summary>
    public const uint DiscardSectorAlignment = 8;

    private const int HeaderBytes = 16;
    private const int DiscardSegmentBytes = 16;
    private const uint WriteZeroesFlagUnmap = 1;

    private readonly IDiskImage _disk;
    private readonly byte[] _serial = new byte[IdBytes];
    private readonly byte[] _config;
    private ulong _features;

    /// <param name="disk">The image; the device owns it (disposes it).</param>
    /// <param name="serial">The GET_ID string (up to 20 bytes of ASCII; null: none, as QEMU).</param>
    public VirtioBlock(IDiskImage disk, string? serial = null, ushort queueSize = DefaultQueueSize)
    {
        ArgumentNullException.ThrowIfNull(disk);
        if (queueSize < 4 || (queueSize & (queueSize - 1)) != 0) throw new ArgumentException("queue size must be a power of two, at least 4");
        _disk = disk;
        MaxQueueSize = queueSize;
        if (serial != null) Encoding.ASCII.GetBytes(serial.AsSpan(0, Math.Min(serial.Length, IdBytes)), _serial);
        Capacity = disk.Length / SectorSize;
        Features = FeatureSizeMax | FeatureSegMax | FeatureBlockSize | FeatureFlush | FeatureDiscard | FeatureWriteZeroes
                   | (disk.ReadOnly ? FeatureReadOnly : 0);
        _config = BuildConfig();
    }

    public VirtioDeviceType DeviceType => VirtioDeviceType.Block;

    public string Name => "virtio-blk";

    public ulong Features { get; }

    public int QueueCount => 1;

    public ushort MaxQueueSize { get; }

    /// <summary>Size in 512-byte sectors (a partial last sector of the image is not visible).</summary>
    public ulong Capacity { get; }

    /// <summary>seg_max: data descriptors per request, leaving room for the header and the status in a
    /// chain no longer than the queue (as QEMU: queue size - 2).</summary>
    public uint SegMax => (uint)MaxQueueSize - 2;

    public bool ReadOnly => _disk.ReadOnly;

    public IDiskImage Disk => _disk;

    /// <summary>§5.2.4 struct virtio_blk_config, up to write_zeroes_may_unmap.</summary>
    private byte[] BuildConfig()
    {
        var c = new byte[60];
        BinaryPrimitives.WriteUInt64LittleEndian(c.AsSpan(0), Capacity);
        BinaryPrimitives.WriteUInt32LittleEndian(c.AsSpan(8), SizeMax);
        BinaryPrimitives.WriteUInt32LittleEndian(c.AsSpan(12), SegMax);
        // geometry (16..19) is not offered; blk_size:
        BinaryPrimitives.WriteUInt32LittleEndian(c.AsSpan(20), SectorSize);
        // topology (24..31), writeback (32), num_queues (34) are not offered.
        BinaryPrimitives.WriteUInt32LittleEndian(c.AsSpan(36), MaxDiscardSectors);
        BinaryPrimitives.WriteUInt32LittleEndian(c.AsSpan(40), MaxDiscardSegments);
        BinaryPrimitives.WriteUInt32LittleEndian(c.AsSpan(44), DiscardSectorAlignment);
        BinaryPrimitives.WriteUInt32LittleEndian(c.AsSpan(48), MaxDiscardSectors);
        BinaryPrimitives.WriteUInt32LittleEndian(c.AsSpan(52), MaxDiscardSegments);
        c[56] = 1; // write_zeroes_may_unmap: an unmapping WRITE_ZEROES punches a hole
        return c;
    }

    public void Attach(IVirtioTransport transport) { }

    public void ReadConfig(uint offset, Span<byte> data)
    {
        data.Clear();
        if (offset >= _config.Length) return;
        ReadOnlySpan<byte> src = _config.AsSpan((int)offset);
        src[..Math.Min(src.Length, data.Length)].CopyTo(data);
    }

    public void WriteConfig(uint offset, ReadOnlySpan<byte> data) { } // writeback is not offered: all fields read-only

    public void Activate(ulong features) => _features = features;

    public void Reset() => _features = 0;

    public void Process(int index, VirtQueue queue)
    {
        Span<byte> header = stackalloc byte[HeaderBytes];
        while (queue.TryPop(out DescriptorChain? chain))
        {
            // §5.2.6: header (16 bytes, device-readable) ... status (1 byte, device-writable, last).
            if (chain.ReadableLength < HeaderBytes || chain.WritableLength < 1)
            {
                queue.Fail(VirtQueueError.MalformedRequest);
                return;
            }
            chain.TryRead(0, header);
            uint type = BinaryPrimitives.ReadUInt32LittleEndian(header);
            ulong sector = BinaryPrimitives.ReadUInt64LittleEndian(header[8..]);
            ulong dataIn = chain.WritableLength - 1; // bytes before the status byte
            uint written = 1;
            byte status;
            try
            {
                switch (type)
                {
                    case TypeIn:
                        status = ReadSectors(chain, sector, dataIn);
                        written = (uint)Math.Min(chain.WritableLength, uint.MaxValue);
                        break;
                    case TypeOut:
                        status = WriteSectors(chain, sector, chain.ReadableLength - HeaderBytes);
                        break;
                    case TypeFlush:
                        status = Has(FeatureFlush) ? Flush() : StatusUnsupported;
                        break;
                    case TypeGetId:
                        chain.TryWrite(0, _serial.AsSpan(0, (int)Math.Min(dataIn, IdBytes)));
                        status = StatusOk;
                        written = (uint)Math.Min(dataIn, IdBytes) + 1;
                        break;
                    case TypeDiscard:
                        status = Has(FeatureDiscard) ? DiscardOrZero(chain, discard: true) : StatusUnsupported;
                        break;
                    case TypeWriteZeroes:
                        status = Has(FeatureWriteZeroes) ? DiscardOrZero(chain, discard: false) : StatusUnsupported;
                        break;
                    default:
                        status = StatusUnsupported;
                        break;
                }
            }
            catch (IOException)
            {
                status = StatusIoError;
            }
            chain.TryWrite(dataIn, new ReadOnlySpan<byte>(in status));
            queue.Push(chain, written);
        }
    }

    private bool Has(ulong feature) => (_features & feature) != 0;

    /// <summary>True when [sector, sector + bytes/512) is a whole number of sectors inside the disk.</summary>
    private bool InRange(ulong sector, ulong bytes) =>
        bytes % SectorSize == 0 && sector <= Capacity && bytes / SectorSize <= Capacity - sector;

    private byte ReadSectors(DescriptorChain chain, ulong sector, ulong length)
    {
        if (!InRange(sector, length)) return StatusIoError;
        ulong position = sector * SectorSize;
        foreach (Span<byte> span in chain.WritableSpans(0, length))
        {
            _disk.Read(position, span);
            position += (ulong)span.Length;
        }
        return StatusOk;
    }

    private byte WriteSectors(DescriptorChain chain, ulong sector, ulong length)
    {
        // §5.2.6.2: a read-only device fails writes and writes nothing.
        if (_disk.ReadOnly || !InRange(sector, length)) return StatusIoError;
        ulong position = sector * SectorSize;
        foreach (Span<byte> span in chain.ReadableSpans(HeaderBytes, length))
        {
            _disk.Write(position, span);
            position += (ulong)span.Length;
        }
        return StatusOk;
    }

    private byte Flush()
    {
        _disk.Flush();
        return StatusOk;
    }

    /// <summary>§5.2.6: the data is an array of {le64 sector; le32 num_sectors; le32 flags}.</summary>
    private byte DiscardOrZero(DescriptorChain chain, bool discard)
    {
        ulong payload = chain.ReadableLength - HeaderBytes;
        if (payload == 0 || payload % DiscardSegmentBytes != 0) return StatusUnsupported;
        if (payload / DiscardSegmentBytes > MaxDiscardSegments) return StatusIoError;
        // One copy of the segments, checked whole before any is acted on: the guest changing its buffer
        // meanwhile cannot slip an unchecked range in.
        Span<byte> segments = stackalloc byte[(int)MaxDiscardSegments * DiscardSegmentBytes];
        segments = segments[..(int)payload];
        chain.TryRead(HeaderBytes, segments);
        for (int i = 0; i < segments.Length; i += DiscardSegmentBytes)
        {
            ReadOnlySpan<byte> segment = segments.Slice(i, DiscardSegmentBytes);
            uint sectors = BinaryPrimitives.ReadUInt32LittleEndian(segment[8..]);
            uint flags = BinaryPrimitives.ReadUInt32LittleEndian(segment[12..]);
            // §5.2.6.2: unknown flags, and unmap on a discard, are UNSUPP.
            if ((flags & ~WriteZeroesFlagUnmap) != 0 || (discard && flags != 0)) return StatusUnsupported;
            if (sectors > MaxDiscardSectors) return StatusIoError;
            if (!InRange(BinaryPrimitives.ReadUInt64LittleEndian(segment), (ulong)sectors * SectorSize)) return StatusIoError;
        }
        if (_disk.ReadOnly) return StatusIoError;
        for (int i = 0; i < segments.Length; i += DiscardSegmentBytes)
        {
            ReadOnlySpan<byte> segment = segments.Slice(i, DiscardSegmentBytes);
            ulong offset = BinaryPrimitives.ReadUInt64LittleEndian(segment) * SectorSize;
            ulong length = (ulong)BinaryPrimitives.ReadUInt32LittleEndian(segment[8..]) * SectorSize;
            bool unmap = (BinaryPrimitives.ReadUInt32LittleEndian(segment[12..]) & WriteZeroesFlagUnmap) != 0;
            if (discard) _disk.Discard(offset, length);
            else _disk.WriteZeroes(offset, length, unmap);
        }
        return StatusOk;
    }

    public void Dispose() => _disk.Dispose();
}
