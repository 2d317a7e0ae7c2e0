namespace Trapeze.Vmm.Tests;

/// <summary>A <see cref="VmHome"/> in a temporary directory, with small stand-in boot images, removed afterwards.</summary>
public sealed class TempHome : IDisposable
{
    public TempHome()
    {
        Root = Directory.CreateTempSubdirectory("trapeze-vmm-").FullName;
        Home = new VmHome(Path.Combine(Root, "home"));
        Kernel = Path.Combine(Root, "Image");
        Initrd = Path.Combine(Root, "initrd.gz");
        File.WriteAllBytes(Kernel, [1, 2, 3, 4]);
        File.WriteAllBytes(Initrd, [5, 6, 7]);
        // No launcher: these tests never start a VM process.
        Manager = new VmManager(Home);
    }

    public string Root { get; }
    public VmHome Home { get; }
    public VmManager Manager { get; }
    public string Kernel { get; }
    public string Initrd { get; }

    public VmCreateRequest Request(string name) => new()
    {
        Name = name,
        Kernel = Kernel,
        Initrd = Initrd,
        Cmdline = "console=ttyS0",
        Firmware = VmDefinition.FirmwareBuiltin,
        MemoryMiB = 256,
    };

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); }
        catch (IOException) { }
    }
}
