using System.Security.Cryptography;

namespace Trapeze.Devices.Virtio.Rng;

/// <summary>
/// virtio-rng, the entropy device (virtio 1.2 §5.4): one request queue whose device-writable buffers are
/// filled from the host's CSPRNG. At most <see cref="MaxBytesPerRequest"/> bytes per request (the used
/// length tells the driver how many), so a huge buffer costs the host nothing much; device-readable
/// buffers, which a driver must not post (§5.4.6.1), are ignored.
/// </summary>
public sealed class VirtioRng : IVirtioDevice
{
    public const int MaxBytesPerRequest = 64 * 1024;

    public VirtioRng(ushort queueSize = 64)
    {
        if (queueSize == 0 || (queueSize & (queueSize - 1)) != 0) throw new ArgumentException("queue size must be a power of two");
        MaxQueueSize = queueSize;
    }

    public VirtioDeviceType DeviceType => VirtioDeviceType.Entropy;

    public string Name => "virtio-rng";

    public ulong Features => 0;

    public int QueueCount => 1;

    public ushort MaxQueueSize { get; }

    /// <summary>Bytes handed to the guest so far.</summary>
    public long BytesProvided { get; private set; }

    public void Attach(IVirtioTransport transport) { }

    public void ReadConfig(uint offset, Span<byte> data) => data.Clear(); // no configuration space

    public void WriteConfig(uint offset, ReadOnlySpan<byte> data) { }

    public void Activate(ulong features) { }

    public void Reset() { }

    public void Process(int index, VirtQueue queue)
    {
        while (queue.TryPop(out DescriptorChain? chain))
        {
            ulong length = Math.Min(chain.WritableLength, MaxBytesPerRequest);
            foreach (Span<byte> span in chain.WritableSpans(0, length)) RandomNumberGenerator.Fill(span);
            BytesProvided += (long)length;
            queue.Push(chain, (uint)length);
        }
    }
}
