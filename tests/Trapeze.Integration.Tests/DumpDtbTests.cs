using System.Text.RegularExpressions;

namespace Trapeze.Integration.Tests;

/// <summary><c>trapeze run --dump-dtb</c>: the device tree the guest gets, checked by dtc and against the
/// one QEMU's virt board generates for the same memory size and hart count.</summary>
public sealed class DumpDtbTests
{
    private static readonly string[] ComparedSubtrees = ["/soc", "/cpus", "/memory@80000000", "/chosen"];

    [HostFact(Needs.OpenSbi | Needs.UBoot | Needs.Dtc)]
    public void DumpedDeviceTreeIsValidWithMemoryAndCpus()
    {
        using var dir = new ScratchDirectory();
        var tree = DumpOurs(dir);

        Assert.Equal("<0x00 0x80000000 0x00 0x10000000>", tree.Property("/memory@80000000", "reg"));
        Assert.Equal("\"memory\"", tree.Property("/memory@80000000", "device_type"));
        var cpus = tree.Children("/cpus").Where(n => n.StartsWith("cpu@", StringComparison.Ordinal)).ToList();
        Assert.Equal(["cpu@0", "cpu@1"], cpus);
        Assert.Equal("<0x00>", tree.Property("/cpus/cpu@0", "reg"));
        Assert.Equal("<0x01>", tree.Property("/cpus/cpu@1", "reg"));
        Assert.Equal("\"/soc/serial@10000000\"", tree.Property("/chosen", "stdout-path"));
        // The PLIC has an M- and an S-mode context per hart, each a (phandle, cause) pair.
        Assert.Equal(2 * 2 * 2, Cells(tree.Property("/soc/plic@c000000", "interrupts-extended")));
    }

    [HostFact(Needs.OpenSbi | Needs.UBoot | Needs.Dtc | Needs.Qemu)]
    public void NodesMatchQemuVirt()
    {
        using var dir = new ScratchDirectory();
        var ours = DumpOurs(dir);
        string qemuDtb = dir.File("qemu.dtb");
        var q = ProcessRunner.RunTool("qemu-system-riscv64", ["-M", $"virt,dumpdtb={qemuDtb}", "-m", "256M", "-smp", "2", "-nographic"]);
        Assert.True(q.ExitCode == 0 && File.Exists(qemuDtb), $"qemu could not dump its device tree:\n{q}");
        var qemu = DeviceTree.Decompile(qemuDtb);

        var compared = ours.Nodes.Where(n => ComparedSubtrees.Any(s => n == s || n.StartsWith(s + "/", StringComparison.Ordinal))).ToList();
        Assert.Contains("/soc/serial@10000000", compared);
        Assert.Contains("/soc/plic@c000000", compared);
        Assert.Contains("/soc/clint@2000000", compared);
        Assert.Contains("/cpus/cpu@1/interrupt-controller", compared);
        var missing = compared.Where(n => !qemu.Nodes.Contains(n)).ToList();
        Assert.True(missing.Count == 0, $"nodes QEMU's virt board does not have: {string.Join(", ", missing)}");

        // Devices sit where QEMU puts them, say they are what QEMU says, and use the same interrupts.
        foreach (var node in ours.Children("/soc").Select(c => "/soc/" + c))
            foreach (var prop in new[] { "reg", "compatible", "interrupts" })
                Assert.True(ours.Property(node, prop) == qemu.Property(node, prop),
                    $"{node} {prop}: ours {ours.Property(node, prop)}, QEMU's {qemu.Property(node, prop)}");
        Assert.Equal(qemu.Property("/memory@80000000", "reg"), ours.Property("/memory@80000000", "reg"));
        Assert.Equal(qemu.Property("/cpus", "timebase-frequency"), ours.Property("/cpus", "timebase-frequency"));
    }

    private static DeviceTree DumpOurs(ScratchDirectory dir)
    {
        string dtb = dir.File("trapeze.dtb");
        var r = TrapezeCli.Run("run", "--dump-dtb", dtb, "--mem", "256M", "--smp", "2", "--kernel", HostPrerequisites.UBoot);
        Assert.True(r.ExitCode == 0, $"--dump-dtb failed:\n{r}");
        Assert.True(r.Stdout.Length == 0, $"--dump-dtb should not boot anything:\n{r}");
        Assert.True(File.Exists(dtb), "--dump-dtb wrote no file");
        return DeviceTree.Decompile(dtb);
    }

    private static int Cells(string? value) =>
        value == null ? 0 : Regex.Matches(value, "0x[0-9a-f]+").Count;

    /// <summary>A device tree as <c>dtc -O dts</c> prints it: node paths and their properties' text.</summary>
    private sealed class DeviceTree
    {
        private readonly Dictionary<string, Dictionary<string, string>> _props = new();
        private readonly List<string> _nodes = [];

        public IReadOnlyList<string> Nodes => _nodes;

        public string? Property(string node, string name) =>
            _props.TryGetValue(node, out var p) && p.TryGetValue(name, out var v) ? v : null;

        public IEnumerable<string> Children(string node) =>
            _nodes.Where(n => n.StartsWith(node + "/", StringComparison.Ordinal) && !n[(node.Length + 1)..].Contains('/'))
                  .Select(n => n[(node.Length + 1)..]);

        public static DeviceTree Decompile(string dtb)
        {
            var r = ProcessRunner.RunTool("dtc", ["-I", "dtb", "-O", "dts", dtb]);
            Assert.True(r.ExitCode == 0, $"dtc rejects {Path.GetFileName(dtb)}:\n{r}");
            var tree = new DeviceTree();
            var path = new Stack<string>();
            foreach (var raw in r.Stdout.Split('\n'))
            {
                string line = raw.Trim();
                if (line.EndsWith(" {", StringComparison.Ordinal))
                {
                    string name = line[..^2];
                    string parent = path.Count == 0 ? "" : path.Peek();
                    string full = name == "/" ? "/" : parent == "/" ? "/" + name : parent + "/" + name;
                    path.Push(full);
                    tree._nodes.Add(full);
                    tree._props[full] = new Dictionary<string, string>();
                }
                else if (line == "};")
                {
                    path.Pop();
                }
                else if (path.Count > 0 && line.EndsWith(';'))
                {
                    int eq = line.IndexOf(" = ", StringComparison.Ordinal);
                    string name = eq < 0 ? line[..^1] : line[..eq];
                    tree._props[path.Peek()][name] = eq < 0 ? "" : line[(eq + 3)..^1];
                }
            }
            Assert.True(tree._nodes.Count > 0 && path.Count == 0, $"cannot follow dtc's output:\n{r.Stdout}");
            return tree;
        }
    }
}
