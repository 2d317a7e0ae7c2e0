namespace Trapeze.Integration.Tests;

/// <summary>A fact skipped when qemu-img (Debian's qemu-utils) is not installed.</summary>
public sealed class QemuImgFactAttribute : FactAttribute
{
    public QemuImgFactAttribute()
    {
        if (HostPrerequisites.FindTool("qemu-img") == null) Skip = "needs qemu-img (Debian package qemu-utils) on PATH";
    }
}

/// <summary><c>trapeze disk</c> through the real process: what it makes, what it says, and that bad input
/// is one "trapeze: " line with exit code 2 and leaves every file as it was (no temporary files either).</summary>
public sealed class DiskCommandTests
{
    private static ProcessResult Disk(params string[] args) => TrapezeCli.Run(["disk", .. args]);

    private static void AssertOk(ProcessResult r) => Assert.True(r.ExitCode == 0, r.ToString());

    private static void AssertRefused(ProcessResult r, string words)
    {
        Assert.True(r.ExitCode == 2, r.ToString());
        Assert.StartsWith("trapeze: ", r.Stderr);
        Assert.Single(r.Stderr.TrimEnd('\n').Split('\n'));
        Assert.Contains(words, r.Stderr);
        Assert.DoesNotContain("   at ", r.Stderr);
    }

    private static string[] Files(ScratchDirectory dir) =>
        Directory.GetFiles(dir.Path, "*", SearchOption.AllDirectories).Select(Path.GetFileName).Order().ToArray()!;

    [Fact]
    public void Create_and_info_describe_raw_and_qcow2_images()
    {
        using var dir = new ScratchDirectory();
        AssertOk(Disk("create", dir.File("a.raw"), "1G"));
        Assert.Equal(1L << 30, new FileInfo(dir.File("a.raw")).Length);
        var info = Disk("info", dir.File("a.raw"));
        AssertOk(info);
        Assert.Contains("format: raw", info.Stdout);
        Assert.Contains("virtual size: 1 GiB (1073741824 bytes)", info.Stdout);
        Assert.Contains("disk usage: 0 bytes", info.Stdout);

        AssertOk(Disk("create", dir.File("b.qcow2"), "10G", "--format", "qcow2", "--cluster-size", "4K"));
        info = Disk("info", dir.File("b.qcow2"));
        AssertOk(info);
        Assert.Contains("format: qcow2", info.Stdout);
        Assert.Contains("virtual size: 10 GiB (10737418240 bytes)", info.Stdout);
        Assert.Contains("cluster size: 4096", info.Stdout);
        Assert.Contains("qcow2 version: 3", info.Stdout);
        Assert.Contains("backing file: none", info.Stdout);
        Assert.Contains("dirty: no", info.Stdout);
        Assert.Contains("corrupt: no", info.Stdout);
        Assert.Equal(["a.raw", "b.qcow2"], Files(dir));
    }

    [Fact]
    public void Create_with_a_backing_file_takes_its_size_and_records_it()
    {
        using var dir = new ScratchDirectory();
        File.WriteAllBytes(dir.File("base.raw"), new byte[3 << 20]);
        AssertOk(Disk("create", dir.File("top.qcow2"), "--backing", "base.raw"));
        var info = Disk("info", dir.File("top.qcow2"));
        AssertOk(info);
        Assert.Contains("virtual size: 3 MiB", info.Stdout);
        Assert.Contains("backing file: base.raw", info.Stdout);
        Assert.Contains("backing format: raw", info.Stdout);
    }

    [Fact]
    public void Backing_files_outside_the_directory_need_an_explicit_flag()
    {
        using var dir = new ScratchDirectory();
        using var other = new ScratchDirectory();
        File.WriteAllBytes(other.File("base.raw"), new byte[1 << 20]);
        AssertRefused(Disk("create", dir.File("top.qcow2"), "--backing", other.File("base.raw")), "outside");
        Assert.Empty(Files(dir));
        AssertOk(Disk("create", dir.File("top.qcow2"), "--backing", other.File("base.raw"), "--allow-external-backing"));
        AssertRefused(Disk("resize", dir.File("top.qcow2"), "+1M"), "outside the image's directory");
        AssertOk(Disk("resize", dir.File("top.qcow2"), "+1M", "--allow-external-backing"));
        AssertRefused(Disk("convert", dir.File("top.qcow2"), dir.File("flat.raw"), "--format", "raw"), "outside");
        AssertOk(Disk("convert", dir.File("top.qcow2"), dir.File("flat.raw"), "--format", "raw", "--allow-external-backing"));
        Assert.Equal(2L << 20, new FileInfo(dir.File("flat.raw")).Length);
    }

    [Fact]
    public void Bad_input_is_refused_and_touches_nothing()
    {
        using var dir = new ScratchDirectory();
        File.WriteAllBytes(dir.File("keep.raw"), [1, 2, 3]);
        AssertRefused(Disk("create", dir.File("keep.raw"), "1M"), "already exists");
        AssertRefused(Disk("create", dir.File("x.raw"), "1000"), "multiple of 512");
        AssertRefused(Disk("create", dir.File("x.raw"), "lots"), "is not a size");
        AssertRefused(Disk("create", dir.File("x.raw"), "0"), "greater than zero");
        AssertRefused(Disk("create", dir.File("x.qcow2"), "1M", "--format", "qcow2", "--cluster-size", "3000"), "power of two");
        AssertRefused(Disk("create", dir.File("x.qcow2"), "1M", "--format", "qcow2", "--cluster-size", "4M"), "power of two");
        AssertRefused(Disk("create", dir.File("x.vmdk"), "1M", "--format", "vmdk"), "not supported");
        AssertRefused(Disk("create", dir.File("x.raw"), "1M", "--backing", "keep.raw", "--format", "raw"), "only qcow2");
        AssertRefused(Disk("create", dir.File("x.qcow2"), "--backing", "missing.raw"), "does not exist");
        AssertRefused(Disk("create", dir.File("x.raw")), "expected a SIZE");
        AssertRefused(Disk("create", dir.File("nodir/x.raw"), "1M"), "does not exist");
        AssertRefused(Disk("frobnicate"), "unknown subcommand");
        AssertRefused(Disk("info"), "expected exactly one FILE");
        AssertRefused(Disk("info", dir.File("missing")), "does not exist");
        AssertRefused(Disk("resize", dir.File("keep.raw"), "1"), "shrinking");
        AssertRefused(Disk("resize", dir.File("keep.raw"), "-1M"), "shrinking");
        AssertRefused(Disk("convert", dir.File("keep.raw"), dir.File("y.qcow2")), "--format");
        AssertRefused(Disk("convert", dir.File("keep.raw"), dir.File("keep.raw"), "--format", "raw"), "already exists");
        Assert.Equal(["keep.raw"], Files(dir));
        Assert.Equal([1, 2, 3], File.ReadAllBytes(dir.File("keep.raw")));
    }

    [Fact]
    public void Hostile_or_broken_qcow2_files_are_one_line_errors()
    {
        using var dir = new ScratchDirectory();
        AssertOk(Disk("create", dir.File("a.qcow2"), "1M", "--format", "qcow2"));
        byte[] bytes = File.ReadAllBytes(dir.File("a.qcow2"));
        bytes[36] = 0xff; // l1_size: huge
        File.WriteAllBytes(dir.File("a.qcow2"), bytes);
        AssertRefused(Disk("info", dir.File("a.qcow2")), "L1 table");
        AssertRefused(Disk("resize", dir.File("a.qcow2"), "2M"), "L1 table");
        AssertRefused(Disk("convert", dir.File("a.qcow2"), dir.File("b.raw"), "--format", "raw"), "L1 table");
        Assert.Equal(["a.qcow2"], Files(dir));
        Assert.Equal(bytes, File.ReadAllBytes(dir.File("a.qcow2")));

        AssertOk(Disk("create", dir.File("d.qcow2"), "1M", "--format", "qcow2"));
        bytes = File.ReadAllBytes(dir.File("d.qcow2"));
        bytes[79] = 1; // the dirty bit
        File.WriteAllBytes(dir.File("d.qcow2"), bytes);
        var info = Disk("info", dir.File("d.qcow2"));
        AssertOk(info);
        Assert.Contains("dirty: yes", info.Stdout);
        AssertRefused(Disk("resize", dir.File("d.qcow2"), "2M"), "not closed cleanly");
    }

    [Fact]
    public void Resize_grows_raw_and_qcow2_images_absolutely_or_relatively()
    {
        using var dir = new ScratchDirectory();
        AssertOk(Disk("create", dir.File("a.raw"), "1M"));
        var r = Disk("resize", dir.File("a.raw"), "+1M");
        AssertOk(r);
        Assert.Contains("2 MiB (2097152 bytes)", r.Stdout);
        Assert.Equal(2L << 20, new FileInfo(dir.File("a.raw")).Length);

        AssertOk(Disk("create", dir.File("b.qcow2"), "1M", "--format", "qcow2", "--cluster-size", "512"));
        AssertOk(Disk("resize", dir.File("b.qcow2"), "1G"));
        Assert.Contains("virtual size: 1 GiB", Disk("info", dir.File("b.qcow2")).Stdout);
        AssertRefused(Disk("resize", dir.File("b.qcow2"), "512M"), "shrinking");
    }

    [QemuImgFact]
    public void Convert_round_trips_and_qemu_agrees()
    {
        using var dir = new ScratchDirectory();
        byte[] data = new byte[8 << 20];
        new Random(1).NextBytes(data.AsSpan(0, 300_000));
        new Random(2).NextBytes(data.AsSpan(6 << 20, 5000));
        File.WriteAllBytes(dir.File("a.raw"), data);
        AssertOk(Disk("convert", dir.File("a.raw"), dir.File("b.qcow2"), "--format", "qcow2"));
        AssertOk(Disk("convert", dir.File("b.qcow2"), dir.File("c.raw"), "--format", "raw"));
        Assert.Equal(data, File.ReadAllBytes(dir.File("c.raw")));
        Assert.True(new FileInfo(dir.File("b.qcow2")).Length < 1 << 20, "zero ranges were written into the qcow2 image");
        var check = ProcessRunner.RunTool("qemu-img", ["check", dir.File("b.qcow2")]);
        Assert.True(check.ExitCode == 0, check.ToString());
        var compare = ProcessRunner.RunTool("qemu-img", ["compare", dir.File("a.raw"), dir.File("b.qcow2")]);
        Assert.True(compare.ExitCode == 0, compare.ToString());
        AssertOk(Disk("resize", dir.File("b.qcow2"), "+100M"));
        check = ProcessRunner.RunTool("qemu-img", ["check", dir.File("b.qcow2")]);
        Assert.True(check.ExitCode == 0, check.ToString());
        Assert.Equal(["a.raw", "b.qcow2", "c.raw"], Files(dir));
    }

    [Fact]
    public void Run_refuses_unknown_disk_formats_and_options_in_one_line()
    {
        using var dir = new ScratchDirectory();
        AssertOk(Disk("create", dir.File("a.qcow2"), "1M", "--format", "qcow2"));
        AssertRefused(TrapezeCli.Run("run", "--bios", "none", "--kernel", "/nonexistent", "--disk", dir.File("a.qcow2") + ",format=vmdk"), "not supported");
        AssertRefused(TrapezeCli.Run("run", "--bios", "none", "--kernel", "/nonexistent", "--disk", dir.File("a.qcow2") + ",allow-external-backing=maybe"), "not on or off");
    }
}
