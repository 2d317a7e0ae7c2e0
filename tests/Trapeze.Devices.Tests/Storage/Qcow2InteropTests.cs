using Trapeze.Devices.Storage;
using static Trapeze.Devices.Tests.Storage.StorageTestSupport;

namespace Trapeze.Devices.Tests.Storage;

/// <summary>
/// QEMU is the reference: images Trapeze writes must pass <c>qemu-img check</c> (no errors, no leaks) and
/// hold what a plain array says; images QEMU writes must read as <c>qemu-img convert -O raw</c> says.
/// </summary>
public sealed class Qcow2InteropTests
{
    private static Qcow2Image OpenRw(string path) => Qcow2Image.Open(path, new Qcow2OpenOptions());

    private static byte[] QemuRaw(ScratchDir dir, string image)
    {
        string raw = dir.File(Path.GetFileName(image) + ".expected.raw");
        File.Delete(raw);
        Qemu("qemu-img", "convert", "-O", "raw", image, raw);
        return File.ReadAllBytes(raw);
    }

    private static void AssertReadsLikeQemu(ScratchDir dir, string image)
    {
        byte[] expected = QemuRaw(dir, image);
        using var ours = Qcow2Image.Open(image, new Qcow2OpenOptions { ReadOnly = true });
        Assert.Equal((ulong)expected.Length, ours.Length);
        Assert.True(ReadAll(ours).AsSpan().SequenceEqual(expected), $"{image} reads differently from qemu-img convert");
    }

    private static void AssertHolds(ScratchDir dir, string image, byte[] model)
    {
        AssertCheckClean(image);
        string raw = dir.File("model.raw");
        File.WriteAllBytes(raw, model);
        AssertSameContents(image, raw);
    }

    [RequiresToolFact("qemu-img")]
    public void Images_Trapeze_writes_pass_qemu_img_check_and_compare()
    {
        using var dir = new ScratchDir();
        foreach (int clusterSize in new[] { 512, 4096, 65536 })
        {
            string path = dir.File($"ours-{clusterSize}.qcow2");
            Qcow2Image.Create(path, 3 << 20, clusterSize);
            AssertCheckClean(path);
            byte[] model = new byte[3 << 20];
            RandomOperations(path, model, clusterSize, 150, 3 * clusterSize + 1000, () => OpenRw(path));
            AssertHolds(dir, path, model);
        }
    }

    [RequiresToolFact("qemu-img")]
    public void Refcount_table_growth_and_L1_growth_pass_qemu_img_check()
    {
        using var dir = new ScratchDir();
        string path = dir.File("grow.qcow2");
        Qcow2Image.Create(path, 1 << 20, 512);
        byte[] model = new byte[10 << 20];
        byte[] data = Pattern(9 << 20, 3);
        using (var image = OpenRw(path))
        {
            image.Grow(10 << 20); // L1 grows from 32 to 320 entries
            image.Write(512 * 1000, data);
        }
        data.CopyTo(model, 512 * 1000);
        AssertHolds(dir, path, model);
        Assert.Contains("virtual size: 10 MiB", Qemu("qemu-img", "info", path));
    }

    [RequiresToolFact("qemu-img", "qemu-io")]
    public void Images_QEMU_writes_are_read_correctly()
    {
        using var dir = new ScratchDir();
        foreach (string options in new[] { "cluster_size=65536", "cluster_size=512", "cluster_size=2M", "preallocation=metadata", "compat=0.10", "refcount_bits=8" })
        {
            string path = dir.File($"qemu-{options.Replace('=', '-')}.qcow2");
            Qemu("qemu-img", "create", "-q", "-f", "qcow2", "-o", options, path, "4M");
            Qemu("qemu-io", "-c", "write -P 0xab 0 64k", "-c", "write -P 0xcd 1000k 300k", "-c", "write -z 1100k 64k",
                "-c", "write -P 0x11 3M 1M", "-c", "discard 3M 128k", "-c", "write -P 0x22 4095k 1k", path);
            AssertReadsLikeQemu(dir, path);
        }
    }

    [RequiresToolFact("qemu-img", "qemu-io")]
    public void Writing_into_QEMU_images_keeps_them_consistent()
    {
        using var dir = new ScratchDir();
        foreach (string options in new[] { "cluster_size=65536", "preallocation=metadata", "compat=0.10", "lazy_refcounts=on", "cluster_size=4096" })
        {
            string path = dir.File($"qemu-{options.Replace('=', '-')}.qcow2");
            Qemu("qemu-img", "create", "-q", "-f", "qcow2", "-o", options, path, "2M");
            Qemu("qemu-io", "-c", "write -P 0xab 0 64k", "-c", "write -P 0xcd 100k 300k", path);
            byte[] model = QemuRaw(dir, path);
            RandomOperations(path, model, options.Length, 80, 70000, () => OpenRw(path));
            AssertHolds(dir, path, model);
        }
    }

    [RequiresToolFact("qemu-img")]
    public void Compressed_images_from_qemu_img_convert_are_read_and_can_be_written()
    {
        using var dir = new ScratchDir();
        string raw = dir.File("source.raw");
        byte[] model = new byte[2 << 20];
        for (int i = 0; i < model.Length; i++) model[i] = (byte)(i / 4096 * 7 + i % 13);
        File.WriteAllBytes(raw, model);
        string path = dir.File("compressed.qcow2");
        Qemu("qemu-img", "convert", "-q", "-c", "-O", "qcow2", "-o", "cluster_size=4096", raw, path);
        Assert.Contains("compressed", Qemu("qemu-img", "check", path));
        AssertReadsLikeQemu(dir, path);
        using (var image = OpenRw(path))
        {
            image.Write(5000, [1, 2, 3]); // inside a compressed cluster: copied out
            image.WriteZeroes(8192, 4096, mayUnmap: true);
            image.Discard(1 << 20, 64 << 10);
        }
        model[5000] = 1; model[5001] = 2; model[5002] = 3;
        Array.Clear(model, 8192, 4096);
        Array.Clear(model, 1 << 20, 64 << 10);
        AssertHolds(dir, path, model);
    }

    [RequiresToolFact("qemu-img", "qemu-io")]
    public void Backing_chains_made_by_QEMU_read_through_and_take_writes()
    {
        using var dir = new ScratchDir();
        string basePath = dir.File("base.qcow2"), mid = dir.File("mid.qcow2"), top = dir.File("top.qcow2");
        Qemu("qemu-img", "create", "-q", "-f", "qcow2", basePath, "2M");
        Qemu("qemu-io", "-c", "write -P 0xab 0 1M", basePath);
        Qemu("qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", mid);
        Qemu("qemu-io", "-c", "write -P 0xcd 100k 100k", "-c", "write -z 500k 64k", mid);
        Qemu("qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=4096", "-b", "mid.qcow2", "-F", "qcow2", top);
        Qemu("qemu-io", "-c", "write -P 0xef 150k 10k", top);
        AssertReadsLikeQemu(dir, top);

        byte[] model = QemuRaw(dir, top);
        RandomOperations(top, model, 5, 60, 20000, () => OpenRw(top));
        AssertCheckClean(top);
        Assert.True(QemuRaw(dir, top).AsSpan().SequenceEqual(model), "QEMU reads the chain differently after our writes");
    }

    [RequiresToolFact("qemu-img")]
    public void Overlays_Trapeze_creates_are_understood_by_QEMU()
    {
        using var dir = new ScratchDir();
        File.WriteAllBytes(dir.File("base.raw"), Pattern(1 << 20, 21));
        DiskImages.Create(dir.File("top.qcow2"), DiskImages.Qcow2, 0, backingFile: "base.raw");
        string info = Qemu("qemu-img", "info", dir.File("top.qcow2"));
        Assert.Contains("backing file: base.raw", info);
        Assert.Contains("backing file format: raw", info);
        byte[] model = File.ReadAllBytes(dir.File("base.raw"));
        string top = dir.File("top.qcow2");
        RandomOperations(top, model, 8, 60, 100_000, () => OpenRw(top));
        AssertCheckClean(top);
        Assert.True(QemuRaw(dir, top).AsSpan().SequenceEqual(model));
    }

    [RequiresToolFact("qemu-img", "qemu-io")]
    public void Resizing_either_way_round_keeps_images_consistent()
    {
        using var dir = new ScratchDir();
        string path = dir.File("r.qcow2");
        Qemu("qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=512", path, "1M");
        Qemu("qemu-io", "-c", "write -P 0x5a 0 1M", path);
        Assert.Equal(100UL << 20, DiskImages.Resize(path, 99 << 20, relative: true));
        AssertCheckClean(path);
        Assert.Contains("virtual size: 100 MiB", Qemu("qemu-img", "info", path));
        Qemu("qemu-img", "resize", "-q", path, "200M");
        using (var image = OpenRw(path))
        {
            Assert.Equal(200UL << 20, image.Length);
            image.Write((200 << 20) - 4096, Pattern(4096, 1));
        }
        AssertCheckClean(path);
        AssertReadsLikeQemu(dir, path);

        string raw = dir.File("r.raw");
        File.WriteAllBytes(raw, new byte[4096]);
        DiskImages.Resize(raw, 1 << 30, relative: false);
        Assert.Equal(1L << 30, new FileInfo(raw).Length);
    }

    [RequiresToolFact("qemu-img", "qemu-io")]
    public void A_dirty_image_is_refused_for_writing_until_qemu_img_repairs_it()
    {
        using var dir = new ScratchDir();
        string path = dir.File("dirty.qcow2");
        Qemu("qemu-img", "create", "-q", "-f", "qcow2", "-o", "lazy_refcounts=on", path, "1M");
        // qemu-io aborting with lazy refcounts leaves the dirty bit set.
        ExternalTools.Run("qemu-io", ToolTimeout, "-c", "write -P 0x77 0 64k", "-c", "abort", path);
        var e = Assert.Throws<DiskImageException>(() => OpenRw(path));
        Assert.Contains("not closed cleanly", e.Message);
        using (var image = Qcow2Image.Open(path, new Qcow2OpenOptions { ReadOnly = true })) Assert.True(image.Dirty);
        ExternalTools.Run("qemu-img", ToolTimeout, "check", "-r", "all", path);
        using (var image = OpenRw(path)) image.Write(0, [1]);
        AssertCheckClean(path);
    }

    [RequiresToolFact("qemu-img")]
    public void Converted_images_match_their_source()
    {
        using var dir = new ScratchDir();
        byte[] data = new byte[4 << 20];
        Pattern(100_000, 1).CopyTo(data, 0);
        Pattern(5000, 2).CopyTo(data, 3 << 20);
        File.WriteAllBytes(dir.File("a.raw"), data);
        DiskImages.Convert(dir.File("a.raw"), dir.File("b.qcow2"), DiskImages.Qcow2, clusterSize: 4096);
        AssertHolds(dir, dir.File("b.qcow2"), data);
        Assert.True(new FileInfo(dir.File("b.qcow2")).Length < 200_000, "zero ranges were written");
        DiskImages.Convert(dir.File("b.qcow2"), dir.File("c.raw"), DiskImages.Raw);
        Assert.True(File.ReadAllBytes(dir.File("c.raw")).AsSpan().SequenceEqual(data));
        Assert.True(DiskImages.Info(dir.File("c.raw")).DiskUsage < 1 << 20, "the raw copy is not sparse");
    }
    /// <summary>
    /// A process crash leaves exactly what was written so far (the host kernel has every completed write).
    /// Copying the file after each operation, while the image is still open, gives that state; each copy
    /// must check with no errors — leaked clusters (exit code 3) are the only damage a crash may do.
    /// </summary>
    [RequiresToolFact("qemu-img", "cp")]
    public void A_crash_after_any_operation_leaves_at_worst_leaked_clusters()
    {
        using var dir = new ScratchDir();
        File.WriteAllBytes(dir.File("base.raw"), Pattern(256 << 10, 4));
        string path = dir.File("live.qcow2");
        Qcow2Image.Create(path, 4 << 20, 512, "base.raw", "raw"); // small clusters: refcount blocks and table growth too
        var random = new Random(17);
        using var image = OpenRw(path);
        for (int i = 0; i < 40; i++)
        {
            int length = random.Next(1, 300_000);
            ulong offset = (ulong)random.Next(0, (4 << 20) - length);
            switch (random.Next(4))
            {
                case 0 or 1: image.Write(offset, Pattern(length, i)); break;
                case 2: image.WriteZeroes(offset, (ulong)length, random.Next(2) == 0); break;
                default: image.Discard(offset, (ulong)length); break;
            }
            if (i % 5 == 4) image.Flush();
            string copy = dir.File($"crash{i}.qcow2");
            Qemu("cp", path, copy);
            var (code, stdout, stderr) = ExternalTools.Run("qemu-img", ToolTimeout, "check", copy);
            Assert.True(code is 0 or 3, $"after operation {i}: qemu-img check exited {code}\n{stdout}\n{stderr}");
            File.Delete(copy);
        }
    }
}
