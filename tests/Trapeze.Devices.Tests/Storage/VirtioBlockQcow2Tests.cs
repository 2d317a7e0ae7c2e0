using Trapeze.Devices.Storage;
using Trapeze.Devices.Virtio;
using Trapeze.Devices.Virtio.Block;
using static Trapeze.Devices.Tests.Storage.StorageTestSupport;

namespace Trapeze.Devices.Tests.Storage;

/// <summary>virtio-blk serving a qcow2 overlay (over a raw backing file), driven through the transport as
/// a guest driver would: reads, writes, flush, discard and write-zeroes land in the qcow2 image.</summary>
public sealed class VirtioBlockQcow2Tests : IDisposable
{
    private readonly ScratchDir _dir = new();
    private readonly FakeGuestRam _ram = new(4 << 20);
    private readonly FakeIrqSink _sink = new();
    private readonly byte[] _base = Pattern(1 << 20, 77);

    public void Dispose()
    {
        _ram.Dispose();
        _dir.Dispose();
    }

    private (byte Status, uint Len) Request(DriverQueue q, uint type, ulong sector, params Buffer[] data)
    {
        ulong header = _ram.Alloc(16);
        _ram.WriteU32(header, type);
        _ram.WriteU32(header + 4, 0);
        _ram.WriteU64(header + 8, sector);
        ulong status = _ram.Alloc(1, 1);
        q.Add(false, [Buffer.Out(header, 16), .. data, Buffer.In(status, 1)]);
        var (_, len) = q.Complete();
        return (_ram.Span(status, 1)[0], len);
    }

    private Buffer Segment(ulong sector, uint count, uint flags)
    {
        ulong p = _ram.Alloc(16);
        _ram.WriteU64(p, sector);
        _ram.WriteU32(p + 8, count);
        _ram.WriteU32(p + 12, flags);
        return Buffer.Out(p, 16);
    }

    [Fact]
    public void A_guest_reads_and_writes_a_qcow2_overlay()
    {
        File.WriteAllBytes(_dir.File("base.raw"), _base);
        string path = _dir.File("vm.qcow2");
        DiskImages.Create(path, DiskImages.Qcow2, 2 << 20, backingFile: "base.raw");
        byte[] model = new byte[2 << 20];
        _base.CopyTo(model, 0);

        IDiskImage disk = DiskImages.Open(path); // probed: the qcow2 magic
        Assert.IsType<Qcow2Image>(disk);
        using (var transport = new VirtioMmioTransport("virtio-blk-qcow2", _ram.Memory, _sink.Line(1), new VirtioBlock(disk)))
        {
            DriverQueue q = new TestDriver(transport, _ram).Start(null)[0];
            ulong buffer = _ram.Alloc(8192);
            Assert.Equal(VirtioBlock.StatusOk, Request(q, VirtioBlock.TypeIn, 3, Buffer.In(buffer, 4096)).Status);
            Assert.True(_ram.Span(buffer, 4096).SequenceEqual(model.AsSpan(3 * 512, 4096)));

            byte[] data = Pattern(8192, 5);
            data.CopyTo(_ram.Span(buffer, 8192));
            Assert.Equal(VirtioBlock.StatusOk, Request(q, VirtioBlock.TypeOut, 125, Buffer.Out(buffer, 8192)).Status);
            data.CopyTo(model, 125 * 512);
            Assert.Equal(VirtioBlock.StatusOk, Request(q, VirtioBlock.TypeFlush, 0).Status);

            Assert.Equal(VirtioBlock.StatusOk, Request(q, VirtioBlock.TypeDiscard, 0, Segment(512, 256, 0)).Status);
            Array.Clear(model, 512 * 512, 256 * 512); // whole clusters over the backing file: zero clusters
            Assert.Equal(VirtioBlock.StatusOk, Request(q, VirtioBlock.TypeWriteZeroes, 0, Segment(1000, 24, 1)).Status);
            Array.Clear(model, 1000 * 512, 24 * 512);
            Assert.Equal(VirtioBlock.StatusIoError, Request(q, VirtioBlock.TypeIn, 4095, Buffer.In(buffer, 1024)).Status);

            Assert.Equal(VirtioBlock.StatusOk, Request(q, VirtioBlock.TypeIn, 100, Buffer.In(buffer, 8192)).Status);
            Assert.True(_ram.Span(buffer, 8192).SequenceEqual(model.AsSpan(100 * 512, 8192)));
        }

        using var reopened = Qcow2Image.Open(path, new Qcow2OpenOptions { ReadOnly = true });
        Assert.True(ReadAll(reopened).AsSpan().SequenceEqual(model));
        Assert.True(File.ReadAllBytes(_dir.File("base.raw")).AsSpan().SequenceEqual(_base));
        if (ExternalTools.Find("qemu-img") != null) AssertCheckClean(path);
    }
}
