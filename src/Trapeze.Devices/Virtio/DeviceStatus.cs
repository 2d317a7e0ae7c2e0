namespace Trapeze.Devices.Virtio;

/// <summary>The device status field (virtio 1.2 §2.1).</summary>
[Flags]
public enum DeviceStatus : uint
{
    None = 0,
    Acknowledge = 1,
    Driver = 2,
    DriverOk = 4,
    FeaturesOk = 8,
    /// <summary>Set by the device when it has met an error it cannot recover from without a reset.</summary>
    DeviceNeedsReset = 64,
    Failed = 128,
}
