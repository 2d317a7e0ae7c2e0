using System.Collections.Immutable;
using System.Runtime.InteropServices;
using Trapeze.Core.Cpu;
using Trapeze.Devices.Irq;
using Trapeze.Devices.Rtc;
using Trapeze.Devices.Serial;
using Trapeze.Devices.Virtio;
using Trapeze.Devices.Virtio.Block;
using Trapeze.Devices.Virtio.Console;
using Trapeze.Devices.Virtio.Net;
using Trapeze.Machine.Sbi;

namespace Trapeze.Machine.Snapshot;

/// <summary>The binary encoding of the machine description and of each component's State record. Decoding is
/// checked against the machine being restored, so that every count is bounded by what that machine has.</summary>
internal static class StateCodec
{
    private const byte DeviceStateNone = 0, DeviceStateNet = 1, DeviceStateConsole = 2;

    // ------------------------------------------------------------------ machine description

    public static void WriteDescription(VirtMachine m, SectionWriter output, PayloadWriter w)
    {
        w.Clear();
        w.U64(m.Config.MemorySize);
        w.U32((uint)m.Harts.Length);
        w.U32((uint)m.Config.Firmware);
        w.U32((uint)Hart.ArchitecturalStateSize);
        w.U64(Hart.ArchitecturalLayoutId);
        w.U32((uint)m.Plic.SourceCount);
        w.U32((uint)m.Virtio.Length);
        foreach (VirtioMmioTransport t in m.Virtio)
        {
            SlotDescription d = Describe(t);
            w.U32(d.Type);
            w.U64(d.Features);
            w.U32(d.Queues);
            w.U16(d.MaxQueueSize);
            w.U64(d.Capacity);
        }
        output.Section(SectionTag.Description, w.Written);
    }

    private readonly record struct SlotDescription(uint Type, ulong Features, uint Queues, ushort MaxQueueSize, ulong Capacity);

    private static SlotDescription Describe(VirtioMmioTransport t) => t.Device is { } d
        ? new((uint)d.DeviceType, d.Features, (uint)d.QueueCount, d.MaxQueueSize, d is VirtioBlock b ? b.Capacity : 0)
        : new(0, 0, 0, 0, 0);

    /// <summary>Refuses a snapshot of a machine configured otherwise, saying what differs.</summary>
    public static void CheckDescription(VirtMachine m, ReadOnlySpan<byte> payload)
    {
        var r = new PayloadReader(payload, "machine description");
        ulong memory = r.U64();
        if (memory != m.Config.MemorySize)
            throw new SnapshotException($"snapshot is of a machine with {Mib(memory)} of memory; this machine has {Mib(m.Config.MemorySize)}");
        uint harts = r.U32();
        if (harts != (uint)m.Harts.Length)
            throw new SnapshotException($"snapshot is of a machine with {harts} harts; this machine has {m.Harts.Length}");
        uint firmware = r.U32();
        if (firmware != (uint)m.Config.Firmware)
            throw new SnapshotException($"snapshot is of a machine with firmware '{FirmwareName(firmware)}'; this machine has '{FirmwareName((uint)m.Config.Firmware)}'");
        uint hartSize = r.U32();
        ulong layout = r.U64();
        if (hartSize != (uint)Hart.ArchitecturalStateSize || layout != Hart.ArchitecturalLayoutId)
            throw new SnapshotException("snapshot was taken by a Trapeze build whose hart state has another layout");
        uint sources = r.U32();
        if (sources != (uint)m.Plic.SourceCount)
            throw new SnapshotException($"snapshot is of a machine whose PLIC has {sources} sources; this machine's has {m.Plic.SourceCount}");
        r.ExactCount(m.Virtio.Length, 26, "virtio slots");
        for (int i = 0; i < m.Virtio.Length; i++)
        {
            var saved = new SlotDescription(r.U32(), r.U64(), r.U32(), r.U16(), r.U64());
            SlotDescription now = Describe(m.Virtio[i]);
            string slot = $"virtio slot {i}";
            if (saved.Type != now.Type)
                throw new SnapshotException($"snapshot has {TypeName(saved.Type)} in {slot}; this machine has {TypeName(now.Type)} there");
            if (saved.Features != now.Features)
                throw new SnapshotException($"{slot} ({TypeName(now.Type)}): the snapshot's device offered features 0x{saved.Features:x}, this one 0x{now.Features:x} (a read-only disk, another device option?)");
            if (saved.Queues != now.Queues || saved.MaxQueueSize != now.MaxQueueSize)
                throw new SnapshotException($"{slot} ({TypeName(now.Type)}): the snapshot's device had {saved.Queues} queues of {saved.MaxQueueSize}, this one {now.Queues} of {now.MaxQueueSize}");
            if (saved.Capacity != now.Capacity)
                throw new SnapshotException($"{slot} ({TypeName(now.Type)}): the snapshot's disk had {saved.Capacity} sectors, this one has {now.Capacity}");
        }
        r.End();
    }

    private static string Mib(ulong bytes) => bytes % (1 << 20) == 0 ? $"{bytes >> 20} MiB" : $"{bytes} bytes";

    private static string FirmwareName(uint kind) => (FirmwareKind)kind switch
    {
        FirmwareKind.None => "none",
        FirmwareKind.File => "file",
        FirmwareKind.Builtin => "builtin",
        _ => $"#{kind}",
    };

    private static string TypeName(uint type) => (VirtioDeviceType)type switch
    {
        VirtioDeviceType.None => "an empty slot",
        VirtioDeviceType.Block => "virtio-blk",
        VirtioDeviceType.Network => "virtio-net",
        VirtioDeviceType.Console => "virtio-console",
        VirtioDeviceType.Entropy => "virtio-rng",
        _ => $"virtio device type {type}",
    };

    // ------------------------------------------------------------------ component states

    public static void WriteStates(MachineState s, SectionWriter output, PayloadWriter w)
    {
        w.Clear();
        w.U64(s.Clock.Ticks);
        output.Section(SectionTag.Clock, w.Written);

        for (int i = 0; i < s.Harts.Length; i++)
        {
            HartSavedState h = s.Harts[i];
            w.Clear();
            w.U32((uint)i);
            w.Bytes(h.Architectural.AsSpan());
            w.Bool(h.SeipSoftware);
            w.Bool(h.Parked);
            output.Section(SectionTag.Hart, w.Written);
        }

        w.Clear();
        w.U32s(s.Plic.Priority.AsSpan());
        w.U32s(s.Plic.Pending.AsSpan());
        w.U32s(s.Plic.Claimed.AsSpan());
        w.U32s(s.Plic.Level.AsSpan());
        w.U32s(s.Plic.Enable.AsSpan());
        w.U32s(s.Plic.Threshold.AsSpan());
        output.Section(SectionTag.Plic, w.Written);

        w.Clear();
        w.Bools(s.Clint.Msip.AsSpan());
        w.U64s(s.Clint.Mtimecmp.AsSpan());
        output.Section(SectionTag.Clint, w.Written);

        Ns16550State u = s.Uart;
        w.Clear();
        w.U8(u.Ier); w.U8(u.Fcr); w.U8(u.Lcr); w.U8(u.Mcr); w.U8(u.LsrErrors); w.U8(u.Msr); w.U8(u.Scr);
        w.U16(u.Divisor);
        w.Bool(u.TransmitterEmptyPending);
        w.Bytes(u.ReceiveFifo.AsSpan());
        w.Bytes(u.Backlog.AsSpan());
        output.Section(SectionTag.Uart, w.Written);

        GoldfishRtcState rtc = s.Rtc;
        w.Clear();
        w.U64(rtc.Offset); w.U32(rtc.TimeHigh); w.U64(rtc.Alarm);
        w.Bool(rtc.AlarmRunning); w.Bool(rtc.IrqPending); w.Bool(rtc.IrqEnabled);
        output.Section(SectionTag.Rtc, w.Written);

        if (s.Sbi != null)
        {
            w.Clear();
            w.U32((uint)s.Sbi.Harts.Length);
            foreach (HsmState h in s.Sbi.Harts) w.U8((byte)h);
            output.Section(SectionTag.Sbi, w.Written);
        }

        for (int slot = 0; slot < s.Virtio.Length; slot++)
        {
            w.Clear();
            w.U32((uint)slot);
            WriteVirtio(s.Virtio[slot], w);
            output.Section(SectionTag.Virtio, w.Written);
        }
    }

    private static void WriteVirtio(VirtioMmioState? t, PayloadWriter w)
    {
        w.Bool(t != null);
        if (t == null) return;
        w.U32(t.Status); w.U32(t.DeviceFeaturesSel); w.U32(t.DriverFeaturesSel); w.U64(t.DriverFeatures);
        w.U32(t.QueueSel); w.U32(t.InterruptStatus); w.U32(t.ConfigGeneration); w.U32((uint)t.Failure);
        w.U32((uint)t.Queues.Length);
        foreach (VirtQueueState q in t.Queues)
        {
            w.U32(q.Num); w.U64(q.Desc); w.U64(q.Driver); w.U64(q.Device);
            w.Bool(q.Ready); w.Bool(q.Active);
            w.U16(q.LastAvail); w.U16(q.UsedIndex); w.U16(q.SignalledUsed); w.Bool(q.SignalledValid);
            w.U32((uint)q.Error);
        }
        switch (t.Device)
        {
            case null:
                w.U8(DeviceStateNone);
                break;
            case VirtioNetState net:
                w.U8(DeviceStateNet);
                w.Bytes(net.Mac.AsSpan());
                break;
            case VirtioConsoleState console:
                w.U8(DeviceStateConsole);
                w.Bytes(console.PendingInput.AsSpan());
                break;
            default:
                throw new InvalidOperationException($"no snapshot encoding for {t.Device.GetType().Name}");
        }
    }

    /// <summary>Reads the component states (the sections after the description), shaped for <paramref name="m"/>.</summary>
    public static MachineState ReadStates(VirtMachine m, SectionReader input)
    {
        var clock = new PayloadReader(input.Read(SectionTag.Clock), "clock");
        var clockState = new MachineClockState(clock.U64());
        clock.End();

        var harts = new HartSavedState[m.Harts.Length];
        for (int i = 0; i < harts.Length; i++)
        {
            var r = new PayloadReader(input.Read(SectionTag.Hart), "hart");
            uint id = r.U32();
            if (id != (uint)i) throw r.Error($"hart {id} where hart {i} belongs");
            ImmutableArray<byte> arch = r.Bytes(Hart.ArchitecturalStateSize, "bytes of hart state");
            harts[i] = new HartSavedState(arch, r.Bool(), r.Bool());
            r.End();
            if (Hart.CheckSavedState(harts[i]) is { } problem) throw r.Error($"hart {i}: {problem}");
        }

        var p = new PayloadReader(input.Read(SectionTag.Plic), "plic");
        int words = (m.Plic.SourceCount + 1 + 31) / 32, contexts = 2 * m.Harts.Length;
        var plic = new PlicState(p.U32s(m.Plic.SourceCount + 1, "priorities"), p.U32s(words, "pending words"),
            p.U32s(words, "claimed words"), p.U32s(words, "level words"), p.U32s(contexts * words, "enable words"),
            p.U32s(contexts, "thresholds"));
        p.End();

        var c = new PayloadReader(input.Read(SectionTag.Clint), "clint");
        var clint = new AclintState(c.Bools(m.Harts.Length, "msip bits"), c.U64s(m.Harts.Length, "mtimecmp values"));
        c.End();

        var u = new PayloadReader(input.Read(SectionTag.Uart), "uart");
        var uart = new Ns16550State(u.U8(), u.U8(), u.U8(), u.U8(), u.U8(), u.U8(), u.U8(), u.U16(), u.Bool(),
            u.Bytes(Ns16550.FifoDepth, "bytes in the receive FIFO"), u.Bytes(m.Uart.BacklogCapacity, "bytes of pending input"));
        u.End();

        var t = new PayloadReader(input.Read(SectionTag.Rtc), "rtc");
        var rtc = new GoldfishRtcState(t.U64(), t.U32(), t.U64(), t.Bool(), t.Bool(), t.Bool());
        t.End();

        BuiltinSbiState? sbi = null;
        if (m.Sbi != null)
        {
            var r = new PayloadReader(input.Read(SectionTag.Sbi), "sbi");
            var states = new HsmState[r.ExactCount(m.Harts.Length, 1, "harts")];
            for (int i = 0; i < states.Length; i++)
            {
                byte b = r.U8();
                if (b > (byte)HsmState.ResumePending) throw r.Error($"hart {i}: HSM state {b}");
                states[i] = (HsmState)b;
            }
            r.End();
            sbi = new BuiltinSbiState(ImmutableCollectionsMarshal.AsImmutableArray(states));
        }

        var virtio = new VirtioMmioState?[m.Virtio.Length];
        for (int slot = 0; slot < virtio.Length; slot++)
        {
            var r = new PayloadReader(input.Read(SectionTag.Virtio), "virtio");
            uint id = r.U32();
            if (id != (uint)slot) throw r.Error($"slot {id} where slot {slot} belongs");
            virtio[slot] = ReadVirtio(ref r, m.Virtio[slot]);
            r.End();
        }

        var state = new MachineState(clockState, ImmutableCollectionsMarshal.AsImmutableArray(harts), plic, clint, uart, rtc, sbi,
            ImmutableCollectionsMarshal.AsImmutableArray(virtio));
        state.Check(m);
        return state;
    }

    private static VirtioMmioState? ReadVirtio(ref PayloadReader r, VirtioMmioTransport transport)
    {
        bool present = r.Bool();
        IVirtioDevice? device = transport.Device;
        if (present != (device != null)) throw r.Error($"{transport.Name}: a device where the machine has {(device == null ? "an empty slot" : "one")}");
        if (device == null) return null;
        uint status = r.U32(), deviceFeaturesSel = r.U32(), driverFeaturesSel = r.U32();
        ulong driverFeatures = r.U64();
        uint queueSel = r.U32(), interruptStatus = r.U32(), configGeneration = r.U32();
        var failure = (VirtQueueError)r.U32();
        var queues = new VirtQueueState[r.ExactCount(device.QueueCount, 41, "queues")];
        for (int i = 0; i < queues.Length; i++)
            queues[i] = new VirtQueueState(r.U32(), r.U64(), r.U64(), r.U64(), r.Bool(), r.Bool(), r.U16(), r.U16(), r.U16(), r.Bool(),
                (VirtQueueError)r.U32());
        byte kind = r.U8();
        byte expected = device switch { VirtioNet => DeviceStateNet, VirtioConsole => DeviceStateConsole, _ => DeviceStateNone };
        if (kind != expected) throw r.Error($"{transport.Name}: device state of kind {kind} for its {device.Name}");
        VirtioDeviceState? own = kind switch
        {
            DeviceStateNet => new VirtioNetState(r.Bytes(6, "MAC address bytes")),
            DeviceStateConsole => new VirtioConsoleState(r.Bytes(((VirtioConsole)device).BacklogCapacity, "bytes of pending input")),
            _ => null,
        };
        return new VirtioMmioState(status, deviceFeaturesSel, driverFeaturesSel, driverFeatures, queueSel, interruptStatus,
            configGeneration, failure, ImmutableCollectionsMarshal.AsImmutableArray(queues), own);
    }
}
