namespace Trapeze.Vmm.Tests;

/// <summary>vm.json: what is written reads back the same; every kind of mistake names its field.</summary>
public sealed class VmJsonTests
{
    private static readonly VmDefinition Full = new()
    {
        Name = "web-1",
        Cpus = 4,
        MemoryMiB = 1024,
        Firmware = "builtin",
        Kernel = "kernel",
        Initrd = "initrd",
        Cmdline = "console=ttyS0 quiet",
        Drives = [new VmDrive("vda", "vda.qcow2", "qcow2"), new VmDrive("data", "/srv/data.raw", "raw", ReadOnly: true, Serial: "D1")],
        NetworkInterfaces = [new VmNetworkInterface("eth0", "tap", "tap0", "52:54:00:12:34:56")],
        Devices = ["virtio-rng"],
        Console = "hvc0",
        Jit = false,
        GcHeapLimitMiB = 128,
        StopTimeoutSeconds = 5,
    };

    [Fact]
    public void Round_trip_keeps_every_field()
    {
        VmDefinition back = VmJson.Read(VmJson.Write(Full), "vm.json");
        Assert.Equal(VmJson.Write(Full), VmJson.Write(back));
        Assert.Equal(Full.Drives, back.Drives);
        Assert.Equal(Full.NetworkInterfaces, back.NetworkInterfaces);
        Assert.Equal(Full.Devices, back.Devices);
        Assert.Equal(Full with { Drives = back.Drives, NetworkInterfaces = back.NetworkInterfaces, Devices = back.Devices }, back);
    }

    [Fact]
    public void Minimal_file_takes_defaults()
    {
        VmDefinition d = VmJson.Read("""{"version": 1, "name": "a"}""", "vm.json");
        Assert.Equal(1, d.Cpus);
        Assert.Equal(512UL, d.MemoryMiB);
        Assert.Equal(VmDefinition.FirmwareOpenSbi, d.Firmware);
        Assert.Equal(VmDefinition.DefaultGcHeapLimitMiB, d.GcHeapLimitMiB);
    }

    [Theory]
    [InlineData("not json", "not valid JSON")]
    [InlineData("[]", "expected a JSON object")]
    [InlineData("""{"name": "a"}""", "no 'version' field")]
    [InlineData("""{"version": 2, "name": "a"}""", "version 2 is newer than this trapeze understands (1)")]
    [InlineData("""{"version": "1", "name": "a"}""", "'version' must be an integer")]
    [InlineData("""{"version": 1}""", "no 'name' field")]
    [InlineData("""{"version": 1, "name": "../x"}""", "'name' '../x' is not 1 to 48 letters")]
    [InlineData("""{"version": 1, "name": "a", "cpu": 2}""", "unknown field 'cpu'")]
    [InlineData("""{"version": 1, "name": "a", "cpus": 0}""", "'cpus' must be an integer in 1..64, not 0")]
    [InlineData("""{"version": 1, "name": "a", "cpus": 2.5}""", "'cpus' must be an integer in 1..64, not 2.5")]
    [InlineData("""{"version": 1, "name": "a", "memory_mib": -1}""", "'memory_mib' must be an integer")]
    [InlineData("""{"version": 1, "name": "a", "kernel": "../../etc/passwd"}""", "'kernel': relative path '../../etc/passwd' leaves the bundle directory")]
    [InlineData("""{"version": 1, "name": "a", "kernel": ""}""", "'kernel' is an empty path")]
    [InlineData("""{"version": 1, "name": "a", "jit": "yes"}""", "'jit' must be true or false")]
    [InlineData("""{"version": 1, "name": "a", "drives": {}}""", "'drives' must be an array")]
    [InlineData("""{"version": 1, "name": "a", "drives": [{"id": "vda"}]}""", "'drives[0]' has no 'path' field")]
    [InlineData("""{"version": 1, "name": "a", "drives": [{"id": "vda", "path": "a", "size": 3}]}""", "'drives[0]': unknown field 'size'")]
    [InlineData("""{"version": 1, "name": "a", "drives": [{"id": "vda", "path": "a"}, {"id": "vda", "path": "b"}]}""", "'drives[1].id': 'vda' is used twice")]
    [InlineData("""{"version": 1, "name": "a", "drives": [{"id": "vda", "path": "a", "format": "vmdk"}]}""", "'drives[0].format' must be raw or qcow2, not 'vmdk'")]
    [InlineData("""{"version": 1, "name": "a", "devices": ["virtio-gpu"]}""", "'virtio-gpu' is not a device")]
    [InlineData("""{"version": 1, "name": "a", "console": "ttyS1"}""", "'ttyS1' is not ttyS0 or hvc0")]
    [InlineData("""{"version": 1, "name": "a", "network_interfaces": [{"id": "eth0", "backend": "user", "address": "x"}]}""", "backend 'user' is not tap")]
    [InlineData("""{"version": 1, "name": "a", "gc_heap_limit_mib": 4}""", "'gc_heap_limit_mib' must be an integer in 32..")]
    public void Mistakes_are_named_precisely(string json, string expected)
    {
        var e = Assert.Throws<VmException>(() => VmJson.Read(json, "/x/vm.json"));
        Assert.Equal(VmErrorKind.BadRequest, e.Kind);
        Assert.StartsWith("/x/vm.json: ", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
