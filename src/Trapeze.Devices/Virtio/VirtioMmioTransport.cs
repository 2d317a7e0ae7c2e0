using System.Buffers.Binary;
using System.Collections.Immutable;
using Trapeze.Core.Memory;
using Trapeze.Devices.Fdt;
using Trapeze.Devices.Irq;

namespace Trapeze.Devices.Virtio;

/// <summary>
/// The virtio-mmio transport, version 2 (virtio 1.2 §4.2.2), as one slot of QEMU's virt board: a 4 KiB
/// register window, one interrupt line, a <c>virtio,mmio</c> device tree node. Without a device it is an
/// empty slot that reads DeviceID 0, so that drivers skip it (as QEMU's do).
/// <para>Threads: registers are read and written by hart threads under <c>_lock</c>. A queue notify only
/// hands the queue to the <see cref="DeviceWorker"/> (the device's own thread), which runs the device and
/// raises the interrupt; the hart never waits for device I/O. Writes that change what the worker may touch (status,
/// QueueReady) first take the worker's lock, so they wait for at most the request in progress. Lock order:
/// worker lock, then <c>_lock</c>.</para>
/// <para>Errors: a virtqueue the guest broke, a queue configuration that cannot work, or a device failure
/// set DEVICE_NEEDS_RESET and, once DRIVER_OK is set, send a configuration change notification (§2.1.2);
/// the device then stops until the driver resets it.</para>
/// </summary>
public sealed class VirtioMmioTransport : IMmioDevice, IDeviceTreeNode, IVirtioTransport, IDisposable
{
    public const ulong WindowSize = 0x1000;
    /// <summary>"virt" in little-endian.</summary>
    public const uint Magic = 0x7472_6976;
    public const uint TransportVersion = 2;
    /// <summary>QEMU's vendor ID ("QEMU"), which guests may already know.</summary>
    public const uint VendorId = 0x554d_4551;
    public const ulong ConfigOffset = 0x100;

    public const uint InterruptUsedBuffer = 1;
    public const uint InterruptConfigChange = 2;

    private enum Register : ulong
    {
        MagicValue = 0x000,
        Version = 0x004,
        DeviceId = 0x008,
        VendorId = 0x00c,
        DeviceFeatures = 0x010,
        DeviceFeaturesSel = 0x014,
        DriverFeatures = 0x020,
        DriverFeaturesSel = 0x024,
        QueueSel = 0x030,
        QueueNumMax = 0x034,
        QueueNum = 0x038,
        QueueReady = 0x044,
        QueueNotify = 0x050,
        InterruptStatus = 0x060,
        InterruptAck = 0x064,
        Status = 0x070,
        QueueDescLow = 0x080,
        QueueDescHigh = 0x084,
        QueueDriverLow = 0x090,
        QueueDriverHigh = 0x094,
        QueueDeviceLow = 0x0a0,
        QueueDeviceHigh = 0x0a4,
        ShmSel = 0x0ac,
        ShmLenLow = 0x0b0,
        ShmLenHigh = 0x0b4,
        ShmBaseLow = 0x0b8,
        ShmBaseHigh = 0x0bc,
        QueueReset = 0x0c0,
        ConfigGeneration = 0x0fc,
    }

    /// <summary>What the driver wrote for one queue.</summary>
    private struct QueueSetup
    {
        public uint Num;
        public ulong Desc, Driver, Device;
        public bool Ready;
    }

    private readonly object _lock = new();
    private readonly GuestMemory _memory;
    private readonly IrqLine _irq;
    private readonly IVirtioDevice? _device;
    private readonly DeviceWorker? _worker;
    private readonly ulong _offered;
    private readonly QueueSetup[] _setup;
    private readonly VirtQueue?[] _queues;

    // Guest-visible state (VirtioMmioState in snapshots).
    private uint _status;
    private uint _deviceFeaturesSel;
    private uint _driverFeaturesSel;
    private ulong _driverFeatures;
    private uint _queueSel;
    private uint _interruptStatus;
    private uint _configGeneration;

    /// <param name="name">Name in diagnostics and exit statistics ("virtio0").</param>
    /// <param name="memory">Guest memory, the only way the device reaches the rings and buffers.</param>
    /// <param name="irq">The slot's interrupt line (PLIC source 1 + n on virt).</param>
    /// <param name="device">The device in the slot, or null for an empty slot.</param>
    public VirtioMmioTransport(string name, GuestMemory memory, IrqLine irq, IVirtioDevice? device)
    {
        ArgumentNullException.ThrowIfNull(memory);
        Name = name;
        _memory = memory;
        _irq = irq;
        _device = device;
        int queues = device?.QueueCount ?? 0;
        if (queues is < 0 or > 64) throw new ArgumentException($"{name}: {queues} queues (at most 64)");
        if (device != null)
        {
            ushort max = device.MaxQueueSize;
            if (max == 0 || max > VirtQueue.MaxSize || (max & (max - 1)) != 0)
                throw new ArgumentException($"{name}: queue size {max} is not a power of two up to {VirtQueue.MaxSize}");
            _offered = device.Features | VirtioFeatures.Transport;
            _worker = new DeviceWorker(name, ProcessQueues);
        }
        _setup = new QueueSetup[queues];
        _queues = new VirtQueue?[queues];
        ResetState();
        device?.Attach(this);
    }

    public string Name { get; }

    public ulong Size => WindowSize;

    public IrqLine Irq => _irq;

    /// <summary>The device in the slot (null: an empty slot).</summary>
    public IVirtioDevice? Device => _device;

    /// <summary>The device status register.</summary>
    public DeviceStatus Status
    {
        get { lock (_lock) return (DeviceStatus)_status; }
    }

    /// <summary>The features both sides agreed on (meaningful once FEATURES_OK is set).</summary>
    public ulong NegotiatedFeatures
    {
        get { lock (_lock) return _driverFeatures; }
    }

    /// <summary>Why the device last entered DEVICE_NEEDS_RESET (kept until the driver resets it).</summary>
    public VirtQueueError Failure { get; private set; }

    /// <summary>The exception behind a <see cref="VirtQueueError.DeviceFailure"/> (a bug, for diagnostics).</summary>
    public Exception? FailureException { get; private set; }

    public bool IsDriverReady
    {
        get { lock (_lock) return IsRunning; }
    }

    private bool IsRunning => (_status & (uint)(DeviceStatus.DriverOk | DeviceStatus.DeviceNeedsReset)) == (uint)DeviceStatus.DriverOk;

    public bool Read(ulong offset, int size, out ulong value)
    {
        value = 0;
        if (!MmioAccess.IsValid(offset, size, 1, 8, WindowSize)) return false;
        if (offset >= ConfigOffset)
        {
            if (_device == null) return true;
            Span<byte> data = stackalloc byte[8];
            data = data[..size];
            lock (_lock) _device.ReadConfig((uint)(offset - ConfigOffset), data);
            Span<byte> wide = stackalloc byte[8];
            wide.Clear();
            data.CopyTo(wide);
            value = BinaryPrimitives.ReadUInt64LittleEndian(wide);
            return true;
        }
        // Registers are 32 bits wide (§4.2.2.2); QEMU reads other widths as zero rather than faulting.
        if (size != 4) return true;
        lock (_lock) value = ReadRegister((Register)offset);
        return true;
    }

    private uint ReadRegister(Register register)
    {
        switch (register)
        {
            case Register.MagicValue: return Magic;
            case Register.Version: return TransportVersion;
            case Register.DeviceId: return (uint)(_device?.DeviceType ?? VirtioDeviceType.None);
            case Register.VendorId: return VendorId;
        }
        if (_device == null) return 0;
        switch (register)
        {
            case Register.DeviceFeatures:
                return _deviceFeaturesSel switch { 0 => (uint)_offered, 1 => (uint)(_offered >> 32), _ => 0 };
            case Register.QueueNumMax: return SelectedQueueExists ? _device.MaxQueueSize : 0u;
            case Register.QueueNum: return SelectedQueueExists ? _setup[_queueSel].Num : 0;
            case Register.QueueReady: return SelectedQueueExists && _setup[_queueSel].Ready ? 1u : 0;
            case Register.QueueDescLow: return SelectedQueueExists ? (uint)_setup[_queueSel].Desc : 0;
            case Register.QueueDescHigh: return SelectedQueueExists ? (uint)(_setup[_queueSel].Desc >> 32) : 0;
            case Register.QueueDriverLow: return SelectedQueueExists ? (uint)_setup[_queueSel].Driver : 0;
            case Register.QueueDriverHigh: return SelectedQueueExists ? (uint)(_setup[_queueSel].Driver >> 32) : 0;
            case Register.QueueDeviceLow: return SelectedQueueExists ? (uint)_setup[_queueSel].Device : 0;
            case Register.QueueDeviceHigh: return SelectedQueueExists ? (uint)(_setup[_queueSel].Device >> 32) : 0;
            case Register.InterruptStatus: return _interruptStatus;
            case Register.Status: return _status;
            // §4.2.2.1: a length (and base) of all ones means the shared memory region does not exist.
            case Register.ShmLenLow or Register.ShmLenHigh or Register.ShmBaseLow or Register.ShmBaseHigh: return uint.MaxValue;
            case Register.ConfigGeneration: return _configGeneration;
            default: return 0;
        }
    }

    private bool SelectedQueueExists => _queueSel < (uint)_setup.Length;

    public bool Write(ulong offset, int size, ulong value)
    {
        if (!MmioAccess.IsValid(offset, size, 1, 8, WindowSize)) return false;
        if (_device == null) return true;
        if (offset >= ConfigOffset)
        {
            Span<byte> data = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(data, value);
            lock (_lock) _device.WriteConfig((uint)(offset - ConfigOffset), data[..size]);
            return true;
        }
        if (size != 4) return true;
        uint v = (uint)value;
        switch ((Register)offset)
        {
            case Register.Status:
                WriteStatus(v);
                return true;
            case Register.QueueReady:
                WriteQueueReady(v);
                return true;
            case Register.QueueNotify:
                // Without VIRTIO_F_NOTIFICATION_DATA the value is the queue index. The hart only hands
                // the queue to the worker.
                ulong queue = 0;
                lock (_lock)
                {
                    if (IsRunning && v < (uint)_queues.Length && _queues[v] != null) queue = 1UL << (int)v;
                }
                _worker!.Schedule(queue);
                return true;
        }
        lock (_lock) WriteRegister((Register)offset, v);
        return true;
    }

    private void WriteRegister(Register register, uint v)
    {
        switch (register)
        {
            case Register.DeviceFeaturesSel: _deviceFeaturesSel = v; break;
            case Register.DriverFeaturesSel: _driverFeaturesSel = v; break;
            case Register.DriverFeatures:
                // §3.1.1: the features are fixed once FEATURES_OK is set.
                if ((_status & (uint)DeviceStatus.FeaturesOk) != 0) break;
                if (_driverFeaturesSel == 0) _driverFeatures = (_driverFeatures & ~0xffff_ffffUL) | v;
                else if (_driverFeaturesSel == 1) _driverFeatures = (_driverFeatures & 0xffff_ffffUL) | ((ulong)v << 32);
                break;
            case Register.QueueSel: _queueSel = v; break;
            case Register.InterruptAck:
                _interruptStatus &= ~v;
                UpdateIrq();
                break;
            default:
                // The queue layout may change only while the queue is not ready (§4.2.2.3.2).
                if (!SelectedQueueExists || _setup[_queueSel].Ready) break;
                ref QueueSetup q = ref _setup[_queueSel];
                switch (register)
                {
                    case Register.QueueNum: q.Num = v; break;
                    case Register.QueueDescLow: q.Desc = (q.Desc & ~0xffff_ffffUL) | v; break;
                    case Register.QueueDescHigh: q.Desc = (q.Desc & 0xffff_ffffUL) | ((ulong)v << 32); break;
                    case Register.QueueDriverLow: q.Driver = (q.Driver & ~0xffff_ffffUL) | v; break;
                    case Register.QueueDriverHigh: q.Driver = (q.Driver & 0xffff_ffffUL) | ((ulong)v << 32); break;
                    case Register.QueueDeviceLow: q.Device = (q.Device & ~0xffff_ffffUL) | v; break;
                    case Register.QueueDeviceHigh: q.Device = (q.Device & 0xffff_ffffUL) | ((ulong)v << 32); break;
                }
                break;
        }
    }

    private void WriteStatus(uint value)
    {
        if (value == 0)
        {
            ResetDevice();
            return;
        }
        bool activated = false;
        lock (_worker!.ProcessLock)
        {
            lock (_lock)
            {
                uint old = _status;
                // DEVICE_NEEDS_RESET belongs to the device: the driver can neither set nor clear it.
                uint status = (value & 0xff & ~(uint)DeviceStatus.DeviceNeedsReset) | (old & (uint)DeviceStatus.DeviceNeedsReset);
                if ((status & (uint)DeviceStatus.FeaturesOk) != 0 && (old & (uint)DeviceStatus.FeaturesOk) == 0 && !FeaturesAcceptable())
                    status &= ~(uint)DeviceStatus.FeaturesOk; // §3.1.1 step 6: the driver reads it back and gives up
                if ((status & (uint)DeviceStatus.DriverOk) != 0 && (old & (uint)DeviceStatus.DriverOk) == 0)
                {
                    if ((status & (uint)DeviceStatus.FeaturesOk) == 0) status &= ~(uint)DeviceStatus.DriverOk;
                    else activated = true;
                }
                _status = status;
                if (activated)
                {
                    for (int i = 0; i < _queues.Length; i++)
                        if (_setup[i].Ready) _queues[i] = CreateQueue(i);
                }
            }
            if (activated) _device!.Activate(_driverFeatures);
        }
        // Buffers made available before DRIVER_OK (receive buffers) are looked at now.
        if (activated) _worker.Schedule(_queues.Length == 64 ? ulong.MaxValue : (1UL << _queues.Length) - 1);
    }

    /// <summary>§6: the driver may accept only offered features, and a version 2 transport needs VERSION_1.</summary>
    private bool FeaturesAcceptable() =>
        (_driverFeatures & ~_offered) == 0 && (_driverFeatures & VirtioFeatures.Version1) != 0;

    private VirtQueue CreateQueue(int index)
    {
        QueueSetup s = _setup[index];
        return new VirtQueue(_memory, (ushort)s.Num, s.Desc, s.Driver, s.Device, _driverFeatures);
    }

    private void WriteQueueReady(uint value)
    {
        lock (_worker!.ProcessLock)
        {
            lock (_lock)
            {
                if (!SelectedQueueExists) return;
                ref QueueSetup q = ref _setup[_queueSel];
                bool ready = (value & 1) != 0;
                if (ready == q.Ready) return;
                if (!ready)
                {
                    q.Ready = false;
                    _queues[_queueSel]?.Stop();
                    _queues[_queueSel] = null;
                    return;
                }
                if (q.Num > _device!.MaxQueueSize
                    || VirtQueue.CheckLayout(_memory, q.Num, q.Desc, q.Driver, q.Device) != VirtQueueError.None)
                {
                    // The queue stays off; the device says why it cannot work.
                    EnterNeedsReset(VirtQueueError.BadQueueConfiguration, null);
                    return;
                }
                q.Ready = true;
                if ((_status & (uint)DeviceStatus.DriverOk) != 0) _queues[_queueSel] = CreateQueue((int)_queueSel);
            }
        }
    }

    /// <summary>The driver wrote 0 to the status register: wait for the request in progress, then return
    /// to the power-on state (§2.1, §4.2.2.1: the status reads 0 once the reset is done).</summary>
    private void ResetDevice()
    {
        lock (_lock)
        {
            foreach (VirtQueue? q in _queues) q?.Stop();
        }
        lock (_worker!.ProcessLock)
        {
            lock (_lock) ResetState();
            _device!.Reset();
        }
    }

    /// <summary>Board reset (power cycle): the same as a driver reset.</summary>
    public void Reset()
    {
        if (_device != null) ResetDevice();
    }

    private void ResetState()
    {
        _status = 0;
        _deviceFeaturesSel = 0;
        _driverFeaturesSel = 0;
        _driverFeatures = 0;
        _queueSel = 0;
        _interruptStatus = 0;
        for (int i = 0; i < _setup.Length; i++)
        {
            _setup[i] = new QueueSetup { Num = _device!.MaxQueueSize };
            _queues[i] = null;
        }
        Failure = VirtQueueError.None;
        FailureException = null;
        UpdateIrq();
    }

    /// <summary>Runs on the device worker with its lock held.</summary>
    private void ProcessQueues(ulong mask)
    {
        for (int i = 0; i < _queues.Length && mask != 0; i++, mask >>= 1)
        {
            if ((mask & 1) == 0) continue;
            VirtQueue? queue;
            lock (_lock)
            {
                if (!IsRunning) return;
                queue = _queues[i];
            }
            if (queue == null) continue;
            try
            {
                _device!.Process(i, queue);
            }
            catch (Exception e)
            {
                // A device bug must not take down the process from a pool thread: report it to the guest.
                queue.Fail(VirtQueueError.DeviceFailure);
                lock (_lock) FailureException ??= e;
            }
            bool notify = queue.NeedsInterrupt();
            lock (_lock)
            {
                if (queue.IsBroken) EnterNeedsReset(queue.Error, null);
                if (notify) _interruptStatus |= InterruptUsedBuffer;
                UpdateIrq();
            }
        }
    }

    private void EnterNeedsReset(VirtQueueError error, Exception? exception)
    {
        if ((_status & (uint)DeviceStatus.DeviceNeedsReset) != 0) return;
        Failure = error;
        if (exception != null) FailureException ??= exception;
        _status |= (uint)DeviceStatus.DeviceNeedsReset;
        foreach (VirtQueue? q in _queues) q?.Stop();
        if ((_status & (uint)DeviceStatus.DriverOk) != 0)
        {
            _interruptStatus |= InterruptConfigChange;
            UpdateIrq();
        }
    }

    public void Kick(int index)
    {
        if (_worker == null || index < 0 || index >= _queues.Length) return;
        _worker.Schedule(1UL << index);
    }

    public void NotifyConfigChanged()
    {
        lock (_lock)
        {
            _configGeneration++;
            if ((_status & (uint)DeviceStatus.DriverOk) != 0) _interruptStatus |= InterruptConfigChange;
            UpdateIrq();
        }
    }

    /// <summary>Holds the device still (a paused machine): returns once the request in progress is done; from
    /// then on the device does no DMA until <see cref="Resume"/>. Notifications meanwhile are kept.</summary>
    public void Pause() => _worker?.Pause();

    /// <summary>Ends a <see cref="Pause"/>.</summary>
    public void Resume() => _worker?.Resume();

    /// <summary>Captures the registers, each queue's configuration and ring positions, and the device's own
    /// state; null for an empty slot. Meant for a paused device (<see cref="Pause"/>), which has no request in
    /// flight.</summary>
    public VirtioMmioState? SaveState()
    {
        if (_device == null) return null;
        lock (_worker!.ProcessLock)
        {
            lock (_lock)
            {
                var queues = new VirtQueueState[_setup.Length];
                for (int i = 0; i < queues.Length; i++)
                {
                    QueueSetup q = _setup[i];
                    VirtQueue? live = _queues[i];
                    queues[i] = new VirtQueueState(q.Num, q.Desc, q.Driver, q.Device, q.Ready, live != null,
                        live?.LastAvailIndex ?? 0, live?.UsedIndex ?? 0, live?.SignalledUsedIndex ?? 0, live?.SignalledValid ?? false,
                        live?.Error ?? VirtQueueError.None);
                }
                return new VirtioMmioState(_status, _deviceFeaturesSel, _driverFeaturesSel, _driverFeatures, _queueSel,
                    _interruptStatus, _configGeneration, Failure, [.. queues], _device.SaveState());
            }
        }
    }

    /// <summary>
    /// Puts the transport and its device in a saved state: registers, queues (rebuilt over the saved rings at
    /// the saved positions), the device's own state, and the interrupt line. A device the driver had started is
    /// activated again with the negotiated features, and every queue is looked at once the device runs (a
    /// notification taken before the snapshot but not yet served is not lost). Refuses a state that does not fit
    /// this slot's device or that a driver could not have produced (ArgumentException), before changing anything.
    /// Meant for a paused device.
    /// </summary>
    public void RestoreState(VirtioMmioState? state)
    {
        if (_device == null)
        {
            if (state != null) throw new ArgumentException($"{Name}: a saved device for an empty slot");
            return;
        }
        if (state == null) throw new ArgumentException($"{Name}: no saved state for its {_device.Name}");
        CheckState(state);
        lock (_worker!.ProcessLock)
        {
            lock (_lock)
            {
                foreach (VirtQueue? q in _queues) q?.Stop();
                _status = state.Status;
                _deviceFeaturesSel = state.DeviceFeaturesSel;
                _driverFeaturesSel = state.DriverFeaturesSel;
                _driverFeatures = state.DriverFeatures;
                _queueSel = state.QueueSel;
                _interruptStatus = state.InterruptStatus;
                _configGeneration = state.ConfigGeneration;
                Failure = state.Failure;
                FailureException = null;
                for (int i = 0; i < _setup.Length; i++)
                {
                    VirtQueueState q = state.Queues[i];
                    _setup[i] = new QueueSetup { Num = q.Num, Desc = q.Desc, Driver = q.Driver, Device = q.Device, Ready = q.Ready };
                    _queues[i] = null;
                    if (!q.Active) continue;
                    VirtQueue live = CreateQueue(i);
                    live.RestorePosition(q.LastAvail, q.UsedIndex, q.SignalledUsed, q.SignalledValid);
                    live.Fail(q.Error);
                    if ((_status & (uint)DeviceStatus.DeviceNeedsReset) != 0) live.Stop();
                    _queues[i] = live;
                }
            }
            _device.RestoreState(state.Device);
            if ((state.Status & (uint)DeviceStatus.DriverOk) != 0) _device.Activate(state.DriverFeatures);
            lock (_lock) UpdateIrq();
        }
        bool running;
        lock (_lock) running = IsRunning;
        if (running) _worker.Schedule(_queues.Length == 64 ? ulong.MaxValue : (1UL << _queues.Length) - 1);
    }

    /// <summary>Throws ArgumentException when <paramref name="state"/> cannot be restored into this slot (see
    /// <see cref="RestoreState"/>); changes nothing.</summary>
    public void CheckState(VirtioMmioState? state)
    {
        if (_device == null)
        {
            if (state != null) throw new ArgumentException($"{Name}: a saved device for an empty slot");
            return;
        }
        if (state == null) throw new ArgumentException($"{Name}: no saved state for its {_device.Name}");
        if (state.Queues.Length != _setup.Length)
            throw new ArgumentException($"{Name}: saved with {state.Queues.Length} queues; its {_device!.Name} has {_setup.Length}");
        if (state.Status > 0xff) throw new ArgumentException($"{Name}: device status 0x{state.Status:x} is not a byte");
        bool featuresOk = (state.Status & (uint)DeviceStatus.FeaturesOk) != 0;
        if (featuresOk && (state.DriverFeatures & ~_offered) != 0)
            throw new ArgumentException($"{Name}: negotiated features 0x{state.DriverFeatures:x} include some its {_device!.Name} does not offer (0x{_offered:x})");
        if ((state.Status & (uint)DeviceStatus.DriverOk) != 0 && !featuresOk)
            throw new ArgumentException($"{Name}: DRIVER_OK without FEATURES_OK");
        if (!Enum.IsDefined(state.Failure)) throw new ArgumentException($"{Name}: unknown failure {(int)state.Failure}");
        for (int i = 0; i < state.Queues.Length; i++)
        {
            VirtQueueState q = state.Queues[i];
            if (!Enum.IsDefined(q.Error)) throw new ArgumentException($"{Name}: queue {i}: unknown error {(int)q.Error}");
            if (!q.Active) continue;
            if (!q.Ready || (state.Status & (uint)DeviceStatus.DriverOk) == 0)
                throw new ArgumentException($"{Name}: queue {i} is in use but not ready, or the driver is not running");
            if (q.Num > _device!.MaxQueueSize || VirtQueue.CheckLayout(_memory, q.Num, q.Desc, q.Driver, q.Device) != VirtQueueError.None)
                throw new ArgumentException($"{Name}: queue {i}: size {q.Num} or ring addresses do not fit this machine");
        }
    }

    /// <summary>Waits until the device worker has nothing queued or running (tests, shutdown).</summary>
    public bool WaitForIdle(TimeSpan timeout) => _worker == null || _worker.WaitForIdle(timeout);

    // The level follows InterruptStatus; set under _lock so that levels from different threads cannot
    // arrive at the interrupt controller out of order.
    private void UpdateIrq() => _irq.Set(_interruptStatus != 0);

    public void AddTo(FdtBuilder fdt, DeviceTreeContext context)
    {
        fdt.BeginNode($"virtio_mmio@{context.UnitAddress}");
        if (_irq.IsConnected)
        {
            fdt.PropertyU32("interrupts", (uint)_irq.Number);
            fdt.PropertyU32("interrupt-parent", context.InterruptParent);
        }
        fdt.PropertyCells("reg", context.BaseAddress, WindowSize);
        fdt.PropertyString("compatible", "virtio,mmio");
        fdt.EndNode();
    }

    /// <summary>Stops the device worker (after the request in progress) and releases the device.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            foreach (VirtQueue? q in _queues) q?.Stop();
        }
        _worker?.Dispose();
        (_device as IDisposable)?.Dispose();
    }
}

/// <summary>What a snapshot keeps of a virtio-mmio transport: its registers, each queue, and the device's own
/// part (<see cref="IVirtioDevice.SaveState"/>).</summary>
public sealed record VirtioMmioState(uint Status, uint DeviceFeaturesSel, uint DriverFeaturesSel, ulong DriverFeatures,
    uint QueueSel, uint InterruptStatus, uint ConfigGeneration, VirtQueueError Failure, ImmutableArray<VirtQueueState> Queues,
    VirtioDeviceState? Device);

/// <summary>One queue of a <see cref="VirtioMmioState"/>: what the driver wrote (size, ring addresses, ready)
/// and, when the device was serving it (<paramref name="Active"/>), the device's positions in the rings.</summary>
public sealed record VirtQueueState(uint Num, ulong Desc, ulong Driver, ulong Device, bool Ready, bool Active,
    ushort LastAvail, ushort UsedIndex, ushort SignalledUsed, bool SignalledValid, VirtQueueError Error);
