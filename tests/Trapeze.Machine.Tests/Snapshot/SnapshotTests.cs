using Trapeze.Machine.Sbi;
using Trapeze.Machine.Snapshot;

namespace Trapeze.Machine.Tests.Snapshot;

/// <summary>Snapshots of small running machines: exact round trips, restore into a new machine that goes on,
/// the migration pieces, refusals of other configurations, atomic file writes.</summary>
public sealed class SnapshotTests
{
    private static byte[] SaveToBytes(VirtMachine m)
    {
        var ms = new MemoryStream();
        MachineSnapshot.Save(m, ms);
        return ms.ToArray();
    }

    [Fact]
    public void A_snapshot_restored_into_a_new_paused_machine_saves_back_byte_for_byte()
    {
        using var source = new SnapshotTestMachine(SnapshotTestMachine.CountingLoop, harts: 2);
        source.Start();
        source.WaitForA0(50_000);
        source.Machine.Pause();
        byte[] first = SaveToBytes(source.Machine);
        Assert.True(source.Machine.IsPaused); // a paused machine stays paused

        using var target = new SnapshotTestMachine(SnapshotTestMachine.CountingLoop, harts: 2, load: false);
        target.Machine.Pause();
        MachineSnapshot.Restore(target.Machine, new MemoryStream(first));
        Assert.Equal(first, SaveToBytes(target.Machine));
    }

    [Fact]
    public void A_restored_machine_goes_on_from_the_snapshot()
    {
        using var source = new SnapshotTestMachine(SnapshotTestMachine.CountingLoop);
        source.Start();
        source.WaitForA0(50_000);
        byte[] snapshot = SaveToBytes(source.Machine); // pauses and resumes by itself
        Assert.False(source.Machine.IsPaused);
        source.WaitForA0(source.A0() + 1000);          // and it runs on

        using var target = new SnapshotTestMachine(SnapshotTestMachine.CountingLoop, load: false, configure: c => c with { Jit = true });
        MachineSnapshot.Restore(target.Machine, new MemoryStream(snapshot));
        ulong saved = target.A0();
        Assert.True(saved >= 50_000);
        Assert.Equal(SnapshotTestMachine.Pc(source.Machine.Harts[0]) & ~0xfffUL, SnapshotTestMachine.Pc(target.Machine.Harts[0]) & ~0xfffUL);
        target.Start();
        target.WaitForA0(saved + 100_000);
    }

    [Fact]
    public void A_running_machine_restored_from_its_own_snapshot_goes_back_to_it()
    {
        using var m = new SnapshotTestMachine(SnapshotTestMachine.CountingLoop, configure: c => c with { Jit = true });
        m.Start();
        m.WaitForA0(10_000);
        m.Machine.Pause();
        ulong saved = m.A0();
        byte[] snapshot = SaveToBytes(m.Machine);
        m.Machine.Resume();
        m.WaitForA0(saved + 5_000_000);

        // Paused: the restore leaves it paused, exactly at the snapshot.
        m.Machine.Pause();
        MachineSnapshot.Restore(m.Machine, new MemoryStream(snapshot));
        Assert.True(m.Machine.IsPaused);
        Assert.Equal(saved, m.A0());
        m.Machine.Resume();
        m.WaitForA0(saved + 5_000_000);

        // Running: the restore pauses it for the time it takes and lets it go on.
        MachineSnapshot.Restore(m.Machine, new MemoryStream(snapshot));
        Assert.False(m.Machine.IsPaused);
        m.WaitForA0(saved + 1000);
    }

    [Fact]
    public void Ram_rounds_then_state_rebuild_the_machine_as_a_full_snapshot_does()
    {
        using var source = new SnapshotTestMachine(SnapshotTestMachine.CountingLoop);
        source.Start();
        source.WaitForA0(10_000);
        var ram = new MemoryStream();
        MachineSnapshot.SaveRam(source.Machine, ram);                                  // while it runs
        var dirty = new MemoryStream();
        MachineSnapshot.SaveRam(source.Machine, dirty, page => page % 7 == 0);         // a later round
        source.Machine.Pause();
        var state = new MemoryStream();
        MachineSnapshot.SaveState(source.Machine, state);
        byte[] full = SaveToBytes(source.Machine);

        using var target = new SnapshotTestMachine(SnapshotTestMachine.CountingLoop, load: false);
        target.Machine.Pause();
        MachineSnapshot.RestoreRam(target.Machine, new MemoryStream(ram.ToArray()));
        MachineSnapshot.RestoreRam(target.Machine, new MemoryStream(dirty.ToArray()));
        MachineSnapshot.RestoreState(target.Machine, new MemoryStream(state.ToArray()));
        Assert.Equal(full, SaveToBytes(target.Machine));

        var page = new byte[RamPages.PageSize];
        RamPages.Read(source.Machine, 0x200, page);
        var copy = new byte[RamPages.PageSize];
        RamPages.Read(target.Machine, 0x200, copy);
        Assert.Equal(page, copy);
        Assert.Equal(4096UL, RamPages.Count(target.Machine));

        // Each piece goes only where it belongs.
        var e = Assert.Throws<SnapshotException>(() => MachineSnapshot.RestoreState(target.Machine, new MemoryStream(full)));
        Assert.Equal("this is a snapshot of kind 'Full', not 'State' as expected here", e.Message);
    }

    [Fact]
    public void The_builtin_sbi_keeps_its_hart_states()
    {
        Func<MachineConfig, MachineConfig> builtin = c => c with { Firmware = FirmwareKind.Builtin };
        using var source = new SnapshotTestMachine(SnapshotTestMachine.CountingLoop, harts: 2, configure: builtin);
        MachineState state = MachineState.Capture(source.Machine);
        Assert.Equal([HsmState.Started, HsmState.Stopped], state.Sbi!.Harts.ToArray());
        Assert.True(state.Harts[1].Parked);

        using var target = new SnapshotTestMachine(SnapshotTestMachine.CountingLoop, harts: 2, load: false, configure: builtin);
        MachineSnapshot.Restore(target.Machine, new MemoryStream(SaveToBytes(source.Machine)));
        Assert.Equal(HsmState.Stopped, target.Machine.Sbi!.StateOf(1));
        Assert.True(target.Machine.Harts[1].IsParked);
        Assert.False(target.Machine.Harts[0].IsParked);
    }

    [Theory]
    [InlineData("memory", "snapshot is of a machine with 16 MiB of memory; this machine has 32 MiB")]
    [InlineData("harts", "snapshot is of a machine with 1 harts; this machine has 2")]
    [InlineData("firmware", "snapshot is of a machine with firmware 'none'; this machine has 'builtin'")]
    [InlineData("devices", "snapshot has virtio-console in virtio slot 6; this machine has virtio-rng there")]
    [InlineData("fewer devices", "snapshot has virtio-console in virtio slot 6; this machine has an empty slot there")]
    public void A_snapshot_of_another_configuration_is_refused_in_one_line(string change, string message)
    {
        using var source = new SnapshotTestMachine(SnapshotTestMachine.CountingLoop);
        byte[] snapshot = SaveToBytes(source.Machine);
        Func<MachineConfig, MachineConfig> configure = change switch
        {
            "memory" => c => c with { MemorySize = 32 << 20 },
            "harts" => c => c with { Harts = 2 },
            "firmware" => c => c with { Firmware = FirmwareKind.Builtin },
            "devices" => c => c with { VirtioDevices = [VirtioDeviceKind.Console, VirtioDeviceKind.Rng] },
            _ => c => c with { VirtioDevices = [VirtioDeviceKind.Rng] },
        };
        using var target = new SnapshotTestMachine(SnapshotTestMachine.CountingLoop, load: false, configure: configure);
        var e = Assert.Throws<SnapshotException>(() => MachineSnapshot.Restore(target.Machine, new MemoryStream(snapshot)));
        Assert.Equal(message, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_disk_of_another_size_or_mode_is_refused()
    {
        string dir = Directory.CreateTempSubdirectory("trapeze-snapdisk-").FullName;
        try
        {
            string small = Path.Combine(dir, "small.img"), large = Path.Combine(dir, "large.img");
            File.WriteAllBytes(small, new byte[1 << 20]);
            File.WriteAllBytes(large, new byte[2 << 20]);
            Func<MachineConfig, MachineConfig> With(string path, bool readOnly = false) =>
                c => c with { Disks = [new DiskConfig(path, ReadOnly: readOnly, Format: "raw")] };
            byte[] snapshot;
            using (var source = new SnapshotTestMachine(SnapshotTestMachine.CountingLoop, configure: With(small)))
                snapshot = SaveToBytes(source.Machine);
            using (var target = new SnapshotTestMachine(SnapshotTestMachine.CountingLoop, load: false, configure: With(large)))
            {
                var e = Assert.Throws<SnapshotException>(() => MachineSnapshot.Restore(target.Machine, new MemoryStream(snapshot)));
                Assert.Equal("virtio slot 7 (virtio-blk): the snapshot's disk had 2048 sectors, this one has 4096", e.Message);
            }
            using (var target = new SnapshotTestMachine(SnapshotTestMachine.CountingLoop, load: false, configure: With(small, readOnly: true)))
            {
                var e = Assert.Throws<SnapshotException>(() => MachineSnapshot.Restore(target.Machine, new MemoryStream(snapshot)));
                Assert.StartsWith("virtio slot 7 (virtio-blk): the snapshot's device offered features", e.Message);
            }
            using (var target = new SnapshotTestMachine(SnapshotTestMachine.CountingLoop, load: false, configure: With(small)))
                MachineSnapshot.Restore(target.Machine, new MemoryStream(snapshot));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void Save_replaces_the_file_whole_and_leaves_no_temporary_file()
    {
        using var m = new SnapshotTestMachine(SnapshotTestMachine.CountingLoop);
        m.Machine.Pause(); // so that two saves see the same clock
        string dir = Directory.CreateTempSubdirectory("trapeze-snapfile-").FullName;
        try
        {
            string path = Path.Combine(dir, "vm.snap");
            File.WriteAllText(path, "an older file");
            MachineSnapshot.Save(m.Machine, path);
            Assert.Equal(SaveToBytes(m.Machine), File.ReadAllBytes(path));
            Assert.Equal(["vm.snap"], Directory.GetFiles(dir).Select(Path.GetFileName));
            MachineSnapshot.Restore(m.Machine, path);

            var e = Assert.Throws<SnapshotException>(() => MachineSnapshot.Save(m.Machine, Path.Combine(dir, "missing", "vm.snap")));
            Assert.StartsWith("cannot write snapshot", e.Message);
            e = Assert.Throws<SnapshotException>(() => MachineSnapshot.Restore(m.Machine, Path.Combine(dir, "none.snap")));
            Assert.StartsWith("cannot read snapshot", e.Message);
            File.WriteAllText(Path.Combine(dir, "text.snap"), "hello");
            e = Assert.Throws<SnapshotException>(() => MachineSnapshot.Restore(m.Machine, Path.Combine(dir, "text.snap")));
            Assert.Equal("not a Trapeze snapshot (no TRPZSNAP magic at the start)", e.Message);

            // Verify checks a file without a machine: whole is fine, one byte changed or cut short is refused.
            MachineSnapshot.Verify(path);
            byte[] bytes = File.ReadAllBytes(path);
            bytes[bytes.Length / 2] ^= 1;
            File.WriteAllBytes(path, bytes);
            e = Assert.Throws<SnapshotException>(() => MachineSnapshot.Verify(path));
            Assert.Contains("checksum mismatch", e.Message);
            File.WriteAllBytes(path, bytes[..100]);
            Assert.Throws<SnapshotException>(() => MachineSnapshot.Verify(path));
            Assert.StartsWith("not a Trapeze snapshot", Assert.Throws<SnapshotException>(() => MachineSnapshot.Verify(Path.Combine(dir, "text.snap"))).Message);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
