namespace Trapeze.Integration.Tests;

/// <summary>Mistakes with the VM verbs: one line "trapeze: ..." on stderr, exit code 2, nothing started.</summary>
public sealed class VmBadInputTests
{
    [Fact]
    public void Bad_requests_are_refused_in_one_line()
    {
        using var scratch = new ScratchDirectory();
        using var home = new VmTestHome(scratch);
        string kernel = scratch.File("Image");
        File.WriteAllBytes(kernel, [1, 2, 3, 4]);
        BadInputTests.AssertRefused(home.Run("start", "nope"), "no VM named 'nope'");
        BadInputTests.AssertRefused(home.Run("console", "nope"), "no VM named 'nope'");
        BadInputTests.AssertRefused(home.Run("create", "../evil", "--kernel", kernel), "VM name '../evil' is not");
        BadInputTests.AssertRefused(home.Run("create", "a", "--kernel", kernel, "--disk", "size=banana"), "'banana' is not a size");
        BadInputTests.AssertRefused(home.Run("create", "a", "--kernel", kernel, "--disk", "size=1000"), "not a multiple of 512");
        BadInputTests.AssertRefused(home.Run("create", "a", "--kernel", kernel, "--mem", "1000K"), "whole number of MiB");
        BadInputTests.AssertRefused(home.Run("create", "a", "--kernel", scratch.File("missing")), "cannot read kernel");
        BadInputTests.AssertRefused(home.Run("create", "a", "--kernel", kernel, "--frob"), "unknown option '--frob'");
        Assert.False(Directory.Exists(home.Bundle("a")));

        home.Ok("create", "a", "--kernel", kernel, "--bios", "builtin", "--mem", "64M");
        BadInputTests.AssertRefused(home.Run("create", "a", "--kernel", kernel), "a VM named 'a' already exists");
        BadInputTests.AssertRefused(home.Run("stop", "a"), "a is not running");
        BadInputTests.AssertRefused(home.Run("resize", "a", "vda", "1G"), "a has no drive 'vda'");
        home.Ok("create", "b", "--kernel", kernel, "--bios", "builtin", "--mem", "64M", "--disk", "size=1M");
        home.Ok("resize", "b", "vda", "2M");
        BadInputTests.AssertRefused(home.Run("resize", "b", "vda", "1M"), "shrink");
        BadInputTests.AssertRefused(home.Run("snapshot", "save", "a"), "a is not running");
        BadInputTests.AssertRefused(home.Run("snapshot", "restore", "a", "t1"), "a has no snapshot 't1'");
        BadInputTests.AssertRefused(home.Run("snapshot", "rm", "a", "t1"), "a has no snapshot 't1'");
        BadInputTests.AssertRefused(home.Run("snapshot", "rm", "a", "../t1"), "snapshot tag '../t1' is not");
        Assert.Matches(@"^TAG\s+SAVED", home.Ok("snapshot", "list", "a").Stdout);
        // A writable image outside the bundle could not be put back by a restore: such a VM's snapshots are refused.
        string outside = scratch.File("outside.raw");
        File.WriteAllBytes(outside, new byte[4096]);
        home.Ok("create", "c", "--kernel", kernel, "--bios", "builtin", "--mem", "64M", "--disk", outside);
        BadInputTests.AssertRefused(home.Run("snapshot", "save", "c"), "outside the VM's directory");
        home.Ok("create", "d", "--kernel", kernel, "--bios", "builtin", "--mem", "64M", "--disk", outside + ",readonly=on");
        BadInputTests.AssertRefused(home.Run("snapshot", "save", "d"), "d is not running");

        File.WriteAllText(Path.Combine(home.Bundle("a"), "vm.json"), """{"version": 1, "name": "a", "cpus": 99}""");
        BadInputTests.AssertRefused(home.Run("start", "a"), "vm.json: 'cpus' must be an integer in 1..64, not 99");
        File.WriteAllText(Path.Combine(home.Bundle("a"), "vm.json"), "{ not json");
        BadInputTests.AssertRefused(home.Run("start", "a"), "vm.json: not valid JSON");
        // The list goes on showing every VM, the broken one as invalid.
        var states = home.States();
        Assert.Equal("invalid", states["a"]);
        Assert.Equal("stopped", states["b"]);
    }

    [Fact]
    public void A_kernel_that_cannot_boot_fails_start_with_the_reason()
    {
        using var scratch = new ScratchDirectory();
        using var home = new VmTestHome(scratch);
        home.Ok("create", "a", "--kernel", "/bin/true", "--bios", "builtin", "--mem", "64M");
        var r = home.Run("start", "a");
        BadInputTests.AssertRefused(r, "a did not start: a: ");
        Assert.Contains("not a RISC-V ELF", r.Stderr);
        Assert.Equal("stopped", home.States()["a"]);
    }
}
