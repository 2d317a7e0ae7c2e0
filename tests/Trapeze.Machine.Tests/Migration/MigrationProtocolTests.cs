using System.Buffers.Binary;
using Trapeze.Machine.Migration;

namespace Trapeze.Machine.Tests.Migration;

/// <summary>The migration wire format refuses what it cannot trust before acting on it.</summary>
public sealed class MigrationProtocolTests
{
    private static readonly MachineConfig Small = new() { MemorySize = 16UL << 20, Firmware = FirmwareKind.None };

    [Fact]
    public void Crc32CMatchesTheCastagnoliCheckValue()
    {
        // The check value of CRC-32C over "123456789" (RFC 3720 B.4 family of test vectors).
        Assert.Equal(0xe3069283u, Crc32C.Compute("123456789"u8));
        // Hardware words and table bytes agree when a buffer is split anywhere.
        byte[] data = new byte[1000];
        new Random(5).NextBytes(data);
        uint whole = Crc32C.Compute(data);
        for (int cut = 0; cut < 20; cut++)
            Assert.Equal(whole, Crc32C.Append(Crc32C.Compute(data.AsSpan(0, cut)), data.AsSpan(cut)));
    }

    [Fact]
    public void FramesRoundTripAndAFlippedBitIsRefused()
    {
        var ms = new MemoryStream();
        MigrationProtocol.WriteFrame(ms, FrameType.RoundEnd, [1, 2, 3, 4]);
        byte[] bytes = ms.ToArray();
        var buffer = new byte[MigrationProtocol.MaxPayload];
        Assert.Equal(FrameType.RoundEnd, MigrationProtocol.ReadFrame(new MemoryStream(bytes), buffer, out int length));
        Assert.Equal(4, length);
        for (int i = 0; i < bytes.Length; i++)
        {
            byte[] bad = (byte[])bytes.Clone();
            bad[i] ^= 0x10;
            Assert.ThrowsAny<Exception>(() => MigrationProtocol.ReadFrame(new MemoryStream(bad), buffer, out _));
        }
    }

    [Fact]
    public void AnOversizedLengthIsRefusedBeforeReading()
    {
        var header = new byte[MigrationProtocol.HeaderSize];
        BinaryPrimitives.WriteUInt32LittleEndian(header, (uint)FrameType.Pages);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(4), uint.MaxValue);
        var e = Assert.Throws<MigrationException>(() => MigrationProtocol.ReadFrame(new MemoryStream(header), new byte[16], out _));
        Assert.Contains("over the", e.Message);
    }

    [Fact]
    public void TheDestinationRefusesAForeignStream()
    {
        var input = new MemoryStream();
        MigrationProtocol.WriteFrame(input, FrameType.Hello, "not a machine description"u8);
        var e = Assert.Throws<MigrationException>(() => LiveMigration.Receive(Small, new Duplex(input.ToArray()), new ReceiveOptions { State = new HartThreadsStateTransfer() }));
        Assert.Contains("bad magic", e.Message);
    }

    [Fact]
    public void TheDestinationRefusesAnotherVersion()
    {
        using var source = new VirtMachine(Small, _ => { });
        byte[] hello = MachineDescription.Of(source).Encode();
        BinaryPrimitives.WriteUInt32LittleEndian(hello.AsSpan(8), MigrationProtocol.Version + 1);
        var input = new MemoryStream();
        MigrationProtocol.WriteFrame(input, FrameType.Hello, hello);
        var e = Assert.Throws<MigrationException>(() => LiveMigration.Receive(Small, new Duplex(input.ToArray()), new ReceiveOptions { State = new HartThreadsStateTransfer() }));
        Assert.Contains("version", e.Message);
    }

    [Fact]
    public void PagesOutsideTheRegionAreRefused()
    {
        using var source = new VirtMachine(Small, _ => { });
        var input = new MemoryStream();
        MigrationProtocol.WriteFrame(input, FrameType.Hello, MachineDescription.Of(source).Encode());
        int dram = source.Bus.Memories.ToList().IndexOf(source.Dram);
        var batch = new byte[8 + 8];
        BinaryPrimitives.WriteUInt32LittleEndian(batch, (uint)dram);
        BinaryPrimitives.WriteUInt32LittleEndian(batch.AsSpan(4), 1);
        BinaryPrimitives.WriteUInt64LittleEndian(batch.AsSpan(8), (Small.MemorySize >> 12) | MigrationProtocol.ZeroPageFlag);
        MigrationProtocol.WriteFrame(input, FrameType.Pages, batch);
        var duplex = new Duplex(input.ToArray());
        var e = Assert.Throws<MigrationException>(() => LiveMigration.Receive(Small, duplex, new ReceiveOptions { State = new HartThreadsStateTransfer() }));
        Assert.Contains("page index", e.Message);
        // The source was told why.
        var replies = new MemoryStream(duplex.Written.ToArray());
        var buffer = new byte[MigrationProtocol.MaxPayload];
        Assert.Equal(FrameType.HelloReply, MigrationProtocol.ReadFrame(replies, buffer, out _));
        Assert.Equal(FrameType.Error, MigrationProtocol.ReadFrame(replies, buffer, out int length));
        Assert.Contains("page index", MigrationProtocol.DecodeMessage(buffer.AsSpan(0, length)));
    }

    /// <summary>Reads from fixed bytes, keeps what is written.</summary>
    private sealed class Duplex(byte[] input) : Stream
    {
        private readonly MemoryStream _in = new(input);
        public readonly MemoryStream Written = new();
        public override int Read(byte[] buffer, int offset, int count) => _in.Read(buffer, offset, count);
        public override void Write(byte[] buffer, int offset, int count) => Written.Write(buffer, offset, count);
        public override void Flush() { }
        public override bool CanRead => true;
        public override bool CanWrite => true;
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
