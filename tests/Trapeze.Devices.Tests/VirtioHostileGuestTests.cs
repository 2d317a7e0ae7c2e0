using System.Diagnostics;
using Xunit.Abstractions;
using Trapeze.Devices.Virtio;
using Trapeze.Devices.Virtio.Block;
using Trapeze.Devices.Virtio.Console;
using Trapeze.Devices.Virtio.Rng;

namespace Trapeze.Devices.Tests;

/// <summary>
/// STYLE rule 7 under fire: guest memory full of random and adversarial rings (loops, wild addresses,
/// huge lengths, nested or malformed indirect tables, avail index jumps), sometimes rewritten while the
/// device works, kicked on every queue of every device thousands of times. The host must neither throw
/// nor hang, and a device either completes requests (with error statuses) or reports DEVICE_NEEDS_RESET.
/// </summary>
public sealed class VirtioHostileGuestTests(ITestOutputHelper output)
{
    private const ulong RamSize = 256 * 1024;
    private const ushort Next = 1, Write = 2, Indirect = 4;
    private static readonly TimeSpan Hang = TimeSpan.FromSeconds(20);

    private static IEnumerable<(string Name, Func<IVirtioDevice> Create)> Devices()
    {
        yield return ("virtio-blk", () => new VirtioBlock(new MemoryDiskImage(64 * 1024), "hostile", queueSize: 64));
        yield return ("virtio-blk ro", () => new VirtioBlock(new MemoryDiskImage(16 * 1024, readOnly: true), queueSize: 16));
        yield return ("virtio-rng", () => new VirtioRng(queueSize: 32));
        yield return ("virtio-console", () =>
        {
            var c = new VirtioConsole(_ => { }, backlogCapacity: 4096, queueSize: 32);
            return c;
        });
    }

    [Fact]
    public void Random_and_adversarial_rings_never_crash_or_hang_any_device()
    {
        const int Iterations = 750;
        var random = new Random(0x7173_7e2a);
        using var ram = new FakeGuestRam(RamSize);
        var sink = new FakeIrqSink();
        var outcomes = new Dictionary<string, (int NeedsReset, int Completed)>();
        var failures = new Dictionary<VirtQueueError, int>();
        var watch = Stopwatch.StartNew();
        using var scribbler = new Scribbler(ram);
        foreach (var (name, create) in Devices())
        {
            IVirtioDevice device = create();
            using var transport = new VirtioMmioTransport(name, ram.Memory, sink.Line(1), device);
            var driver = new TestDriver(transport, ram);
            int needsReset = 0, completed = 0;
            for (int i = 0; i < Iterations; i++)
            {
                if (device is VirtioConsole console) console.TryEnqueueInput(new byte[random.Next(1, 300)]);
                bool scribble = random.Next(8) == 0;
                bool resetMidway = random.Next(16) == 0;
                DriverQueue[]? queues = Setup(driver, ram, random, out bool ringsWritable);
                if (queues == null)
                {
                    if (transport.Failure != VirtQueueError.None) failures[transport.Failure] = failures.GetValueOrDefault(transport.Failure) + 1;
                    continue;
                }
                if (scribble) scribbler.Start();
                foreach (int q in Enumerable.Range(0, queues.Length).OrderBy(_ => random.Next()))
                {
                    for (int k = random.Next(1, 3); k > 0; k--) queues[q].Kick();
                    // A notify for a queue that does not exist is ignored.
                    if (random.Next(10) == 0) driver.Write(Mmio.QueueNotify, (uint)random.Next());
                }
                if (resetMidway) driver.Write(Mmio.Status, 0);
                bool idle = transport.WaitForIdle(Hang);
                scribbler.Stop();
                Assert.True(idle, $"{name}, iteration {i}: the device worker did not finish within {Hang.TotalSeconds} s");
                Assert.True(transport.FailureException == null, $"{name}, iteration {i}: device threw {transport.FailureException}");
                DeviceStatus status = transport.Status;
                if (transport.Failure != VirtQueueError.None)
                {
                    Assert.True(status.HasFlag(DeviceStatus.DeviceNeedsReset), $"{name}, iteration {i}: failure without NEEDS_RESET");
                    Assert.NotEqual(0u, driver.Read(Mmio.InterruptStatus) & VirtioMmioTransport.InterruptConfigChange);
                    needsReset++;
                    failures[transport.Failure] = failures.GetValueOrDefault(transport.Failure) + 1;
                }
                else if (!resetMidway && !scribble && !ringsWritable)
                {
                    // No failure (and the guest did not let the device overwrite its rings): every
                    // chain made available was completed.
                    foreach (DriverQueue q in queues)
                        if (q.Index != VirtioConsole.ReceiveQueue || device is not VirtioConsole)
                            Assert.Equal(q.AvailIdx, q.UsedIdx);
                    completed++;
                }
            }
            outcomes[name] = (needsReset, completed);
            // After all that, a clean initialisation still gets a working device.
            ram.Span(FakeGuestRam.RamBase, (int)RamSize).Clear();
            ram.Next = FakeGuestRam.RamBase;
            ProveWorking(driver, ram, device);
        }
        output.WriteLine($"{watch.Elapsed.TotalSeconds:F1} s; " + string.Join(", ", outcomes.Select(o => $"{o.Key}: {o.Value.NeedsReset} needs-reset, {o.Value.Completed} clean")));
        output.WriteLine(string.Join(", ", failures.OrderBy(f => f.Key).Select(f => $"{f.Key} {f.Value}")));
        // The generator reached every rule the virtqueue enforces.
        foreach (VirtQueueError e in new[] { VirtQueueError.AvailIndexJump, VirtQueueError.DescriptorIndexOutOfRange,
            VirtQueueError.ChainTooLong, VirtQueueError.BufferOutOfRange, VirtQueueError.BufferTooLarge,
            VirtQueueError.ReadableAfterWritable, VirtQueueError.IndirectInIndirect, VirtQueueError.IndirectMisplaced,
            VirtQueueError.IndirectBadLength, VirtQueueError.BadQueueConfiguration, VirtQueueError.MalformedRequest })
            Assert.True(failures.ContainsKey(e), $"no iteration hit {e}");
        // The mix exercised both outcomes on every device.
        foreach (var (name, (needsReset, completed)) in outcomes)
        {
            Assert.True(needsReset > 50, $"{name}: only {needsReset} iterations ended in NEEDS_RESET");
            Assert.True(completed > 50, $"{name}: only {completed} iterations completed cleanly");
        }
        Assert.True(watch.Elapsed < TimeSpan.FromMinutes(3), $"took {watch.Elapsed}");
    }

    /// <summary>Initialises the device with random features and rings full of hostile descriptors.
    /// Returns null when the setup itself was refused (that is an outcome too).</summary>
    private static DriverQueue[]? Setup(TestDriver driver, FakeGuestRam ram, Random random, out bool ringsWritable)
    {
        ringsWritable = false;
        ram.Span(FakeGuestRam.RamBase, (int)RamSize).Clear();
        ram.Next = FakeGuestRam.RamBase;
        ulong offered = driver.DeviceFeatures;
        ulong features = VirtioFeatures.Version1 | (offered & (ulong)random.NextInt64());
        if (!driver.Negotiate(features)) return null;
        IVirtioDevice device = driver.Transport.Device!;
        var queues = new DriverQueue[device.QueueCount];
        for (int q = 0; q < queues.Length; q++)
        {
            ushort size = (ushort)(device.MaxQueueSize >> random.Next(3));
            if (random.Next(40) == 0)
            {
                // A layout that cannot work: the queue must stay off (and the device asks for a reset).
                driver.ProgramQueue(q, (uint)random.Next(0, 70000), (ulong)random.NextInt64(), (ulong)random.NextInt64(), (ulong)random.NextInt64());
                driver.Write(Mmio.QueueReady, 1);
                return null;
            }
            queues[q] = driver.SetupQueue(q, size, features);
        }
        driver.DriverOk();

        // Fill everything after the rings with noise, then write hostile descriptors and avail entries.
        ulong data = ram.Alloc(0, 16);
        random.NextBytes(ram.Span(data, (int)(ram.End - data)));
        // A third of the time the chains are well formed but their contents random (requests the device
        // must answer with error statuses); otherwise anything goes.
        if (random.Next(3) == 0)
        {
            bool indirect = (features & VirtioFeatures.RingIndirectDesc) != 0 && random.Next(2) == 0;
            foreach (DriverQueue q in queues) PlausibleRequests(q, ram, random, data, indirect);
            return queues;
        }
        foreach (DriverQueue q in queues)
        {
            for (int i = 0; i < q.Size; i++) ringsWritable |= HostileDescriptor(q, q.Desc, i, q.Size, ram, random, data);
            // A few indirect tables somewhere in the noise, one of them (often) really used.
            ushort firstHead = (ushort)random.Next(q.Size);
            for (int t = 0; t < 4; t++)
            {
                ulong table = data + ((ulong)random.NextInt64((long)(ram.End - data - 1024)) & ~15UL);
                int entries = random.Next(1, Math.Min(32, (int)q.Size) + 1);
                for (int i = 0; i < entries; i++) ringsWritable |= HostileDescriptor(q, table, i, entries, ram, random, data);
                if (t == 0 && random.Next(2) == 0)
                {
                    q.WriteDescriptor(q.Desc, firstHead, table, (uint)entries * 16, Indirect, 0);
                    if (random.Next(3) == 0) q.WriteDescriptor(table, 0, table, (uint)entries * 16, Indirect, 0);
                }
            }
            int available = random.Next(10) switch
            {
                0 => random.Next(q.Size + 1, 65536),     // an avail index jump
                1 => 0,
                _ => random.Next(1, q.Size + 1),
            };
            for (int i = 0; i < Math.Min(available, q.Size); i++)
                ram.WriteU16(q.Avail + 4 + 2UL * (uint)i, (ushort)(random.Next(20) == 0 ? random.Next(65536) : random.Next(q.Size)));
            ram.WriteU16(q.Avail + 4, firstHead);
            q.SetAvailFlags((ushort)random.Next(4));
            q.SetUsedEvent((ushort)random.Next(65536));
            q.SetAvailIdx((ushort)available);
        }
        return queues;
    }

    /// <summary>Well-formed chains (readable header, writable data and status) over random bytes; block
    /// requests get a plausible type and sector half of the time.</summary>
    private static void PlausibleRequests(DriverQueue q, FakeGuestRam ram, Random random, ulong data, bool indirect)
    {
        uint[] types = [VirtioBlock.TypeIn, VirtioBlock.TypeOut, VirtioBlock.TypeFlush, VirtioBlock.TypeGetId,
            VirtioBlock.TypeDiscard, VirtioBlock.TypeWriteZeroes];
        int count = random.Next(1, q.Size / 3 + 1);
        ulong Place(uint length) => data + ((ulong)random.NextInt64((long)(ram.End - data - length)) & ~15UL);
        for (int k = 0; k < count; k++)
        {
            uint headerLength = (uint)random.Next(16, 64);
            ulong header = Place(headerLength);
            if (random.Next(2) == 0)
            {
                ram.WriteU32(header, types[random.Next(types.Length)]);
                ram.WriteU64(header + 8, (ulong)random.Next(200));
            }
            uint dataLength = (uint)random.Next(0, 3) * 512;
            var buffers = new List<Buffer> { Buffer.Out(header, headerLength) };
            if (dataLength > 0) buffers.Add(new Buffer(Place(dataLength), dataLength, random.Next(2) == 0));
            buffers.Add(Buffer.In(Place(8), (uint)random.Next(1, 8)));
            // Readable before writable, as the rules say.
            buffers.Sort((a, b) => a.Writable.CompareTo(b.Writable));
            q.Add(indirect, [.. buffers]);
        }
    }

    /// <summary>Writes one hostile descriptor; true when it lets the device write into ring memory.</summary>
    private static bool HostileDescriptor(DriverQueue q, ulong table, int i, int tableSize, FakeGuestRam ram, Random random, ulong data)
    {
        ulong span = ram.End - data;
        ulong addr = random.Next(12) switch
        {
            0 => 0,
            1 => ulong.MaxValue - (ulong)random.Next(64),
            2 => ram.End - (ulong)random.Next(1, 64),
            3 => FakeGuestRam.RomBase + (ulong)random.Next(4096),
            4 => (ulong)random.NextInt64() * 2,
            5 => q.Desc,                                   // the ring itself
            _ => data + (ulong)random.NextInt64((long)span),
        };
        uint len = random.Next(12) switch
        {
            0 => 0,
            1 => uint.MaxValue,
            2 => 0x8000_0000,
            3 => (uint)random.Next(1, 64) * 16,            // plausible indirect table
            4 => (uint)random.Next(),
            _ => (uint)random.Next(1, 4096),
        };
        ushort flags = random.Next(10) switch
        {
            0 => (ushort)random.Next(65536),
            1 => Indirect,
            2 => Indirect | Next,
            _ => (ushort)((random.Next(3) != 0 ? Next : 0) | (random.Next(2) == 0 ? Write : 0)),
        };
        ushort next = random.Next(10) switch
        {
            0 => (ushort)random.Next(65536),
            1 => (ushort)i,                                // a self-loop
            2 => (ushort)Math.Max(0, i - 1),               // a back edge
            _ => (ushort)((i + 1) % tableSize),
        };
        q.WriteDescriptor(table, i, addr, len, flags, next);
        return (flags & Write) != 0 && addr >= FakeGuestRam.RamBase && addr < data;
    }

    /// <summary>A guest that keeps rewriting descriptor tables, rings and buffers while the device reads
    /// them: one thread for the whole test, scribbling between <see cref="Start"/> and <see cref="Stop"/>.</summary>
    private sealed class Scribbler : IDisposable
    {
        private readonly FakeGuestRam _ram;
        private readonly Thread _thread;
        private readonly ManualResetEventSlim _active = new(false);
        private volatile bool _disposed;
        private int _scribbling;

        public Scribbler(FakeGuestRam ram)
        {
            _ram = ram;
            _thread = new Thread(Run) { IsBackground = true, Name = "scribbler" };
            _thread.Start();
        }

        public void Start() => _active.Set();

        /// <summary>Returns once the thread has stopped writing.</summary>
        public void Stop()
        {
            _active.Reset();
            while (Volatile.Read(ref _scribbling) != 0) Thread.Yield();
        }

        private void Run()
        {
            var random = new Random(4242);
            var chunk = new byte[64];
            while (!_disposed)
            {
                _active.Wait();
                Interlocked.Exchange(ref _scribbling, 1);
                while (_active.IsSet && !_disposed)
                {
                    random.NextBytes(chunk);
                    ulong at = FakeGuestRam.RamBase + ((ulong)random.NextInt64((long)RamSize - 64) & ~7UL);
                    chunk.CopyTo(_ram.Span(at, 64));
                }
                Interlocked.Exchange(ref _scribbling, 0);
            }
        }

        public void Dispose()
        {
            _disposed = true;
            _active.Set();
            _thread.Join();
            _active.Dispose();
        }
    }

    private static void ProveWorking(TestDriver driver, FakeGuestRam ram, IVirtioDevice device)
    {
        DriverQueue[] queues = driver.Start();
        ulong buffer = ram.Alloc(512);
        ulong status = ram.Alloc(1, 1);
        switch (device)
        {
            case VirtioBlock:
                ulong header = ram.Alloc(16);
                ram.WriteU32(header, VirtioBlock.TypeIn);
                queues[0].Add(Buffer.Out(header, 16), Buffer.In(buffer, 512), Buffer.In(status, 1));
                queues[0].Complete();
                Assert.Equal(VirtioBlock.StatusOk, ram.Span(status, 1)[0]);
                break;
            case VirtioRng:
                queues[0].Add(Buffer.In(buffer, 16));
                Assert.Equal(16u, queues[0].Complete().Len);
                break;
            case VirtioConsole:
                queues[VirtioConsole.TransmitQueue].Add(Buffer.Out(buffer, 16));
                queues[VirtioConsole.TransmitQueue].Complete();
                break;
        }
        Assert.False(driver.Transport.Status.HasFlag(DeviceStatus.DeviceNeedsReset));
    }

    [Fact]
    public void Random_register_accesses_never_throw()
    {
        using var ram = new FakeGuestRam(RamSize);
        var sink = new FakeIrqSink();
        var random = new Random(99);
        foreach (var (name, create) in Devices())
        {
            using var transport = new VirtioMmioTransport(name, ram.Memory, sink.Line(1), create());
            ulong[] registers = [0x14, 0x20, 0x24, 0x30, 0x38, 0x44, 0x50, 0x64, 0x70, 0x80, 0x84, 0x90, 0x94, 0xa0, 0xa4, 0x100, 0x108];
            for (int i = 0; i < 50_000; i++)
            {
                ulong offset = random.Next(3) == 0 ? (ulong)random.NextInt64() : registers[random.Next(registers.Length)];
                if (random.Next(4) == 0) offset = (ulong)random.Next(0x1000);
                int size = 1 << random.Next(4);
                ulong value = random.Next(4) switch
                {
                    0 => (ulong)random.Next(8),
                    1 => FakeGuestRam.RamBase + (ulong)random.Next((int)RamSize),
                    2 => 0,
                    _ => (ulong)random.NextInt64(),
                };
                if (random.Next(2) == 0) transport.Read(offset, size, out _);
                else transport.Write(offset, size, value);
            }
            Assert.True(transport.WaitForIdle(Hang), $"{name}: worker still busy");
            Assert.Null(transport.FailureException);
        }
    }
}
