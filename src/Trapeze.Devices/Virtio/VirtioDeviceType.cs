namespace Trapeze.Devices.Virtio;

/// <summary>Device IDs (virtio 1.2 §5). Zero is "no device": an empty virtio-mmio slot reads it.</summary>
public enum VirtioDeviceType : uint
{
    None = 0,
    Network = 1,
    Block = 2,
    Console = 3,
    Entropy = 4,
}
