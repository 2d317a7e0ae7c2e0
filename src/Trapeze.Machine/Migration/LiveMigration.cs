using System.Buffers.Binary;
using System.Diagnostics;
using Trapeze.Core.Memory;
using Trapeze.Devices.Power;
using Trapeze.Devices.Storage;

namespace Trapeze.Machine.Migration;

/// <summary>
/// Live migration of a running machine over a connected stream (DESIGN.md, the monitor's <c>Migrate</c>
/// action), by pre-copy as QEMU and KVM do it: RAM is sent while the guest runs — first every non-zero page,
/// then in rounds the pages dirtied meanwhile — until what is left could be sent within the target downtime
/// (or pre-copy is not converging); then the source is paused, the last dirty pages and the state of harts and
/// devices are sent, and the destination resumes the guest. The downtime is from the pause to the
/// destination's acknowledgement. If anything fails before that acknowledgement, the source guest goes on
/// running and nothing is lost. See <see cref="MigrationProtocol"/> for the wire format.
/// <para>
/// Writable disks go the same way (QEMU's block migration): the guest's writes are tracked in blocks of
/// <see cref="MigrationProtocol.DiskBlockSize"/> (<see cref="DirtyTrackingDiskImage"/>); round 1 sends every
/// block that does not read as zeroes, later rounds the blocks written meanwhile, and the stop-and-copy the
/// rest once the paused machine's disks are flushed. The source's images are only read, so a failed migration
/// leaves them as the guest left them. The destination's writable disks must be new, empty images of the same
/// size; it writes the blocks through its machine's own handles before the machine first runs.
/// </para>
/// </summary>
public static class LiveMigration
{
    /// <summary>Pre-copy always stops once no more than this many pages' worth of bytes (dirty pages and disk
    /// blocks) are left to send (a round trip costs more).</summary>
    public const long MinStopPages = 64;

    /// <summary>The exit code of a destination machine whose migration failed before it ran.</summary>
    public const int FailedExitCode = 75;

    /// <summary>
    /// Migrates <paramref name="machine"/>, which is running (or at least not paused), to the destination at the
    /// other end of <paramref name="stream"/>. On success the source is left paused — the guest now runs on
    /// the destination — and the caller disposes it. On failure a <see cref="MigrationException"/> is thrown
    /// and the source runs on.
    /// </summary>
    public static MigrationReport Send(VirtMachine machine, Stream stream, MigrationOptions options)
    {
        ArgumentNullException.ThrowIfNull(machine);
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(options);
        return new Sender(machine, stream, options).Run();
    }

    /// <summary>
    /// Receives a migration from the source at the other end of <paramref name="stream"/>: builds a machine from
    /// <paramref name="config"/> (which must describe the same machine as the source's), applies the pages and
    /// the state, starts it and acknowledges. Returns the running machine. On failure the source is told,
    /// the partly built machine is disposed and a <see cref="MigrationException"/> is thrown.
    /// </summary>
    public static VirtMachine Receive(MachineConfig config, Stream stream, ReceiveOptions options)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(options);
        return new Receiver(config, stream, options).Run();
    }

    // ------------------------------------------------------------------ source

    private sealed class Sender(VirtMachine machine, Stream stream, MigrationOptions options)
    {
        private readonly IReadOnlyList<GuestRam> _regions = machine.Bus.Memories;
        private readonly byte[] _frame = new byte[MigrationProtocol.MaxPayload];
        private readonly List<MigrationRound> _rounds = [];
        private DirtyLog?[] _logs = [];
        private int _batchRegion = -1, _batchCount, _batchLength;
        private long _pagesSent, _bytesSent, _roundPages, _roundBytes;
        // Writable disks: their index among the machine's disks, image and tracking bitmap (while tracked).
        private readonly (int Index, DirtyTrackingDiskImage Image)[] _disks = WritableDisks(machine);
        private DiskDirtyBitmap?[] _diskMaps = [];
        private readonly byte[] _diskFrame = new byte[MigrationProtocol.MaxPayload];
        private int _diskBatch = -1, _diskBatchCount, _diskBatchLength;
        private long _blocksSent, _roundBlocks;
        private Stopwatch _downtime = new();

        public MigrationReport Run()
        {
            var total = Stopwatch.StartNew();
            // A destination that stops reading must not hang the source forever with its guest paused.
            if (stream.CanTimeout) stream.WriteTimeout = (int)Math.Min(int.MaxValue, options.ReplyTimeout.TotalMilliseconds);
            Handshake();
            bool paused = false;
            ulong[][] pending = [.. _regions.Select(r => new ulong[r.DirtyBitmapWords])];
            ulong[][] collected = [.. _regions.Select(r => new ulong[r.DirtyBitmapWords])];
            ulong[][] diskPending = [.. _disks.Select(d => new ulong[(BlockCount(d.Image) + 63) / 64])];
            try
            {
                StartLogging();

                // Round 1: every non-zero block and page (the destination's disks and RAM start zeroed).
                var sw = Stopwatch.StartNew();
                for (int d = 0; d < _disks.Length; d++)
                    for (ulong b = 0; b < BlockCount(_disks[d].Image); b++) SendBlock(d, b, skipZero: true);
                for (int r = 0; r < _regions.Count; r++)
                    for (ulong p = 0; p < _regions[r].PageCount; p++) SendPage(r, p, skipZero: true);
                EndRound(sw, stopAndCopy: false);

                bool converged = false;
                long previous = long.MaxValue;
                int withoutProgress = 0;
                while (true)
                {
                    // Disk blocks count by their bytes: a stop-and-copy of dirty disk blocks costs downtime as
                    // surely as one of dirty pages.
                    long dirty = Collect(pending) * MigrationProtocol.PageSize + CollectDisks(diskPending) * MigrationProtocol.DiskBlockSize;
                    MigrationRound last = _rounds[^1];
                    double bytesPerSecond = last.Elapsed.TotalSeconds > 0 ? last.Bytes / last.Elapsed.TotalSeconds : double.MaxValue;
                    double threshold = Math.Max(MinStopPages * MigrationProtocol.PageSize, bytesPerSecond * options.TargetDowntime.TotalSeconds);
                    if (dirty <= threshold) { converged = true; break; }
                    withoutProgress = dirty >= previous ? withoutProgress + 1 : 0;
                    previous = dirty;
                    if (_rounds.Count >= options.MaxRounds || withoutProgress >= options.MaxRoundsWithoutProgress) break;
                    sw.Restart();
                    SendDiskBitmaps(diskPending);
                    SendBitmaps(pending);
                    EndRound(sw, stopAndCopy: false);
                }

                // Stop-and-copy: what the last collection found plus what was dirtied since, and the state.
                _downtime = Stopwatch.StartNew();
                paused = options.State.Pause(machine);
                sw.Restart();
                // Paused, no request is in progress; the flush makes sure what the guest wrote is in the image
                // the blocks are read from (a failing host disk fails the migration here, not at the destination).
                foreach (var (index, image) in _disks) DiskIo(index, image, "flush", () => image.Flush());
                CollectDisks(diskPending);
                SendDiskBitmaps(diskPending);
                Collect(collected);
                for (int r = 0; r < _regions.Count; r++)
                    for (int i = 0; i < pending[r].Length; i++) pending[r][i] |= collected[r][i];
                SendBitmaps(pending);
                EndRound(sw, stopAndCopy: true);
                long stateBytes = SendState();
                SendDone();
                WaitForResumed();
                _downtime.Stop();
                StopLogging();
                return new MigrationReport
                {
                    Rounds = _rounds,
                    TotalTime = total.Elapsed,
                    Downtime = _downtime.Elapsed,
                    Converged = converged,
                    PagesSent = _pagesSent,
                    DiskBlocksSent = _blocksSent,
                    BytesSent = _bytesSent,
                    StateBytes = stateBytes,
                };
            }
            catch (Exception e)
            {
                StopLogging();
                // Nothing is lost: the destination never acknowledged, so the guest lives here still (and is
                // left paused if it was paused before the migration).
                if (paused) options.State.Resume(machine);
                if (e is not IOException) TrySend(FrameType.Error, MigrationProtocol.EncodeMessage(e.Message));
                throw e as MigrationException ?? new MigrationException($"migration failed: {e.Message}", e);
            }
        }

        private void Handshake()
        {
            try
            {
                MigrationProtocol.WriteFrame(stream, FrameType.Hello, MachineDescription.Of(machine).Encode());
                stream.Flush();
                FrameType type = MigrationProtocol.ReadFrame(stream, _frame, out int length);
                if (type == FrameType.Error)
                    throw new MigrationException($"the destination refused: {MigrationProtocol.DecodeMessage(_frame.AsSpan(0, length))}");
                if (type != FrameType.HelloReply || length < 4)
                    throw new MigrationException($"migration stream: expected the destination's reply, got {type}");
                if (BinaryPrimitives.ReadUInt32LittleEndian(_frame) != 0)
                    throw new MigrationException($"the destination refused: {MigrationProtocol.DecodeMessage(_frame.AsSpan(4, length - 4))}");
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                throw new MigrationException($"migration: the destination did not answer ({e.Message})", e);
            }
        }

        private void StartLogging()
        {
            _logs = new DirtyLog?[_regions.Count];
            for (int r = 0; r < _regions.Count; r++)
            {
                // Harts cannot store to a read-only region (the boot ROM), so no write TLB entry needs
                // flushing for it; only a loader writes there (a guest reset during the migration).
                if (_regions[r].ReadOnly) _regions[r].StartDirtyLog();
                else (_logs[r] = new DirtyLog(_regions[r], machine.Harts)).Start();
            }
            _diskMaps = new DiskDirtyBitmap?[_disks.Length];
            for (int d = 0; d < _disks.Length; d++) _diskMaps[d] = _disks[d].Image.StartTracking(MigrationProtocol.DiskBlockSize);
        }

        private void StopLogging()
        {
            foreach (var m in _regions) m.StopDirtyLog();
            for (int d = 0; d < _disks.Length; d++)
                if (_diskMaps[d] != null) _disks[d].Image.StopTracking();
        }

        /// <summary>A host I/O error on a disk is not a broken stream: it becomes a migration error, which the
        /// other side is told of (a stream error is not sent, the stream being gone).</summary>
        internal static MigrationException DiskError(int index, IDiskImage image, string what, IOException e) =>
            new($"cannot {what} disk {index} ({image.Name}): {e.Message}", e);

        private static void DiskIo(int index, IDiskImage image, string what, Action io)
        {
            try { io(); }
            catch (IOException e) { throw DiskError(index, image, what, e); }
        }

        private static (int Index, DirtyTrackingDiskImage Image)[] WritableDisks(VirtMachine machine)
        {
            var list = new List<(int, DirtyTrackingDiskImage)>();
            for (int i = 0; i < machine.Disks.Count; i++)
            {
                if (machine.Disks[i].ReadOnly) continue;
                // VirtMachine wraps every writable disk; one that is not wrapped could not be copied consistently.
                if (machine.Disks[i].Disk is not DirtyTrackingDiskImage image)
                    throw new MigrationException($"disk {i} ({machine.Disks[i].Disk.Name}) is writable but its writes cannot be tracked");
                list.Add((i, image));
            }
            return [.. list];
        }

        private static ulong BlockCount(IDiskImage image) =>
            (image.Length + MigrationProtocol.DiskBlockSize - 1) / MigrationProtocol.DiskBlockSize;

        private long CollectDisks(ulong[][] into)
        {
            long n = 0;
            for (int d = 0; d < _disks.Length; d++) n += _diskMaps[d]!.Take(into[d]);
            return n;
        }

        private void SendDiskBitmaps(ulong[][] bitmaps)
        {
            for (int d = 0; d < _disks.Length; d++)
            {
                ulong[] b = bitmaps[d];
                ulong blocks = BlockCount(_disks[d].Image);
                for (int i = 0; i < b.Length; i++)
                {
                    ulong w = b[i];
                    while (w != 0)
                    {
                        ulong block = (ulong)i * 64 + (ulong)System.Numerics.BitOperations.TrailingZeroCount(w);
                        w &= w - 1;
                        if (block < blocks) SendBlock(d, block, skipZero: false);
                    }
                    b[i] = 0;
                }
            }
            FlushDiskBatch();
        }

        /// <summary>Reads the block straight into the batch; a block reading as zeroes goes as a flag only
        /// (or not at all in round 1: the destination's new image reads as zeroes already).</summary>
        private void SendBlock(int disk, ulong block, bool skipZero)
        {
            DirtyTrackingDiskImage image = _disks[disk].Image;
            ulong offset = block * MigrationProtocol.DiskBlockSize;
            int length = (int)Math.Min(MigrationProtocol.DiskBlockSize, image.Length - offset);
            // Unallocated qcow2 clusters are skipped from the tables alone: a large sparse disk is not read whole.
            if (skipZero && image.KnownZero(offset, (ulong)length)) return;
            if (_diskBatch != disk || _diskBatchCount == MigrationProtocol.DiskBlocksPerBatch) FlushDiskBatch();
            if (_diskBatchCount == 0)
            {
                _diskBatch = disk;
                _diskBatchLength = 8;
            }
            Span<byte> data = _diskFrame.AsSpan(_diskBatchLength + 8, length);
            try { image.Read(offset, data); }
            catch (IOException e) { throw DiskError(_disks[disk].Index, image, "read", e); }
            bool zero = !data.ContainsAnyExcept((byte)0);
            if (zero && skipZero)
            {
                if (_diskBatchCount == 0) _diskBatch = -1;
                return;
            }
            BinaryPrimitives.WriteUInt64LittleEndian(_diskFrame.AsSpan(_diskBatchLength), block | (zero ? MigrationProtocol.ZeroBlockFlag : 0));
            _diskBatchLength += 8 + (zero ? 0 : length);
            _diskBatchCount++;
            _roundBlocks++;
        }

        private void FlushDiskBatch()
        {
            if (_diskBatchCount == 0) return;
            BinaryPrimitives.WriteUInt32LittleEndian(_diskFrame, (uint)_disks[_diskBatch].Index);
            BinaryPrimitives.WriteUInt32LittleEndian(_diskFrame.AsSpan(4), (uint)_diskBatchCount);
            Write(FrameType.DiskBlocks, _diskFrame.AsSpan(0, _diskBatchLength));
            _diskBatchCount = 0;
            _diskBatch = -1;
        }

        private long Collect(ulong[][] into)
        {
            long n = 0;
            for (int r = 0; r < _regions.Count; r++)
                n += _logs[r] is { } log ? log.Collect(into[r]) : _regions[r].TakeDirty(into[r]);
            return n;
        }

        private void SendBitmaps(ulong[][] bitmaps)
        {
            for (int r = 0; r < _regions.Count; r++)
            {
                ulong[] b = bitmaps[r];
                ulong pages = _regions[r].PageCount;
                for (int i = 0; i < b.Length; i++)
                {
                    ulong w = b[i];
                    while (w != 0)
                    {
                        ulong p = (ulong)i * 64 + (ulong)System.Numerics.BitOperations.TrailingZeroCount(w);
                        w &= w - 1;
                        if (p < pages) SendPage(r, p, skipZero: false);
                    }
                    b[i] = 0;
                }
            }
        }

        private void SendPage(int region, ulong page, bool skipZero)
        {
            ReadOnlySpan<byte> data = _regions[region].AsSpan(page << GuestRam.PageShift, MigrationProtocol.PageSize);
            bool zero = !data.ContainsAnyExcept((byte)0);
            if (zero && skipZero) return;
            if (_batchRegion != region || _batchCount == MigrationProtocol.PagesPerBatch) FlushBatch();
            if (_batchCount == 0)
            {
                _batchRegion = region;
                _batchLength = 8;
            }
            BinaryPrimitives.WriteUInt64LittleEndian(_frame.AsSpan(_batchLength), page | (zero ? MigrationProtocol.ZeroPageFlag : 0));
            _batchLength += 8;
            if (!zero)
            {
                data.CopyTo(_frame.AsSpan(_batchLength));
                _batchLength += MigrationProtocol.PageSize;
            }
            _batchCount++;
            _roundPages++;
        }

        private void FlushBatch()
        {
            if (_batchCount == 0) return;
            BinaryPrimitives.WriteUInt32LittleEndian(_frame, (uint)_batchRegion);
            BinaryPrimitives.WriteUInt32LittleEndian(_frame.AsSpan(4), (uint)_batchCount);
            Write(FrameType.Pages, _frame.AsSpan(0, _batchLength));
            _batchCount = 0;
            _batchRegion = -1;
        }

        private void EndRound(Stopwatch sw, bool stopAndCopy)
        {
            FlushDiskBatch();
            FlushBatch();
            Span<byte> p = stackalloc byte[20];
            BinaryPrimitives.WriteUInt32LittleEndian(p, (uint)(_rounds.Count + 1));
            BinaryPrimitives.WriteInt64LittleEndian(p[4..], _roundPages);
            BinaryPrimitives.WriteInt64LittleEndian(p[12..], _roundBlocks);
            Write(FrameType.RoundEnd, p);
            stream.Flush();
            var round = new MigrationRound(_rounds.Count + 1, _roundPages, _roundBytes, sw.Elapsed, stopAndCopy) { DiskBlocks = _roundBlocks };
            _rounds.Add(round);
            _pagesSent += _roundPages;
            _blocksSent += _roundBlocks;
            _roundBlocks = 0;
            _roundPages = 0;
            _roundBytes = 0;
            options.OnRound?.Invoke(round);
        }

        private long SendState()
        {
            using var state = new MemoryStream();
            options.State.SaveState(machine, state);
            if (state.Length > MigrationProtocol.MaxStateLength)
                throw new MigrationException($"machine state of {state.Length} bytes is over the {MigrationProtocol.MaxStateLength}-byte limit");
            ReadOnlySpan<byte> all = state.GetBuffer().AsSpan(0, (int)state.Length);
            for (int at = 0; at < all.Length; at += MigrationProtocol.StateChunk)
                Write(FrameType.State, all.Slice(at, Math.Min(MigrationProtocol.StateChunk, all.Length - at)));
            Span<byte> end = stackalloc byte[12];
            BinaryPrimitives.WriteInt64LittleEndian(end, all.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(end[8..], Crc32C.Compute(all));
            Write(FrameType.StateEnd, end);
            return all.Length;
        }

        private void SendDone()
        {
            Span<byte> p = stackalloc byte[20];
            BinaryPrimitives.WriteInt64LittleEndian(p, _pagesSent);
            BinaryPrimitives.WriteUInt32LittleEndian(p[8..], (uint)_rounds.Count);
            BinaryPrimitives.WriteInt64LittleEndian(p[12..], _blocksSent);
            Write(FrameType.Done, p);
            stream.Flush();
        }

        private void WaitForResumed()
        {
            if (stream.CanTimeout) stream.ReadTimeout = (int)Math.Min(int.MaxValue, options.ReplyTimeout.TotalMilliseconds);
            FrameType type = MigrationProtocol.ReadFrame(stream, _frame, out int length);
            if (type == FrameType.Error)
                throw new MigrationException($"the destination failed: {MigrationProtocol.DecodeMessage(_frame.AsSpan(0, length))}");
            if (type != FrameType.Resumed)
                throw new MigrationException($"migration stream: expected the destination's acknowledgement, got {type}");
        }

        private void Write(FrameType type, ReadOnlySpan<byte> payload)
        {
            MigrationProtocol.WriteFrame(stream, type, payload);
            long n = MigrationProtocol.HeaderSize + payload.Length;
            _bytesSent += n;
            _roundBytes += n;
        }

        private void TrySend(FrameType type, ReadOnlySpan<byte> payload)
        {
            try
            {
                MigrationProtocol.WriteFrame(stream, type, payload);
                stream.Flush();
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or NotSupportedException)
            {
                // The stream is gone: the destination learns of the failure from its end.
            }
        }
    }

    // ------------------------------------------------------------------ destination

    private sealed class Receiver(MachineConfig config, Stream stream, ReceiveOptions options)
    {
        private readonly byte[] _frame = new byte[MigrationProtocol.MaxPayload];
        private VirtMachine? _machine;

        public VirtMachine Run()
        {
            try
            {
                var machine = Accept();
                options.OnCreated?.Invoke(machine);
                ReceiveAll(machine);
                return machine;
            }
            catch (Exception e)
            {
                if (_machine != null)
                {
                    // Its owner may already run it (waiting paused, from OnCreated): make that run end first.
                    _machine.RequestPower(new PowerRequest(PowerRequestKind.Fail, FailedExitCode));
                    _machine.Dispose();
                }
                if (e is not IOException) TrySend(FrameType.Error, MigrationProtocol.EncodeMessage(e.Message));
                if (e is EndOfStreamException or IOException)
                    throw new MigrationException($"migration: the source went away ({e.Message})", e);
                throw e as MigrationException ?? new MigrationException($"migration failed: {e.Message}", e);
            }
        }

        private VirtMachine Accept()
        {
            FrameType type = MigrationProtocol.ReadFrame(stream, _frame, out int length);
            if (type != FrameType.Hello) throw new MigrationException($"migration stream: expected the source's hello, got {type}");
            MachineDescription source = MachineDescription.Decode(_frame.AsSpan(0, length));
            _machine = new VirtMachine(config, options.ConsoleOutput);
            string? mismatch = MachineDescription.Of(_machine).Mismatch(source);
            if (mismatch != null)
            {
                Reply(1, $"machine mismatch: {mismatch}");
                throw new MigrationException($"migration refused: machine mismatch: {mismatch}");
            }
            Reply(0, "ok");
            return _machine;
        }

        private void Reply(uint status, string message)
        {
            byte[] text = MigrationProtocol.EncodeMessage(message);
            var payload = new byte[4 + text.Length];
            BinaryPrimitives.WriteUInt32LittleEndian(payload, status);
            text.CopyTo(payload, 4);
            MigrationProtocol.WriteFrame(stream, FrameType.HelloReply, payload);
            stream.Flush();
        }

        private void ReceiveAll(VirtMachine machine)
        {
            IReadOnlyList<GuestRam> regions = machine.Bus.Memories;
            long roundPages = 0, totalPages = 0, roundBlocks = 0, totalBlocks = 0;
            uint rounds = 0;
            using var state = new MemoryStream();
            bool stateComplete = false;
            while (true)
            {
                FrameType type = MigrationProtocol.ReadFrame(stream, _frame, out int length);
                ReadOnlySpan<byte> p = _frame.AsSpan(0, length);
                switch (type)
                {
                    case FrameType.Pages:
                        roundPages += ApplyPages(regions, p);
                        break;
                    case FrameType.DiskBlocks:
                        Expect(!stateComplete, "disk blocks after the state");
                        roundBlocks += ApplyDiskBlocks(machine, p);
                        break;
                    case FrameType.RoundEnd:
                        Expect(length == 20, "round end");
                        Expect(BinaryPrimitives.ReadUInt32LittleEndian(p) == rounds + 1, "round number");
                        Expect(BinaryPrimitives.ReadInt64LittleEndian(p[4..]) == roundPages, "page count of the round");
                        Expect(BinaryPrimitives.ReadInt64LittleEndian(p[12..]) == roundBlocks, "disk block count of the round");
                        rounds++;
                        totalPages += roundPages;
                        totalBlocks += roundBlocks;
                        roundPages = 0;
                        roundBlocks = 0;
                        break;
                    case FrameType.State:
                        Expect(!stateComplete && state.Length + length <= MigrationProtocol.MaxStateLength, "state length");
                        state.Write(p);
                        break;
                    case FrameType.StateEnd:
                        Expect(length == 12 && !stateComplete, "state end");
                        Expect(BinaryPrimitives.ReadInt64LittleEndian(p) == state.Length, "state length");
                        Expect(BinaryPrimitives.ReadUInt32LittleEndian(p[8..]) == Crc32C.Compute(state.GetBuffer().AsSpan(0, (int)state.Length)), "state checksum");
                        stateComplete = true;
                        break;
                    case FrameType.Done:
                        Expect(length == 20 && stateComplete && roundPages == 0 && roundBlocks == 0, "end of migration");
                        Expect(BinaryPrimitives.ReadInt64LittleEndian(p) == totalPages, "total page count");
                        Expect(BinaryPrimitives.ReadUInt32LittleEndian(p[8..]) == rounds, "round count");
                        Expect(BinaryPrimitives.ReadInt64LittleEndian(p[12..]) == totalBlocks, "total disk block count");
                        // The copied disks are durable before the source is told to let go of its own.
                        for (int i = 0; i < machine.Disks.Count; i++)
                        {
                            IDiskImage disk = machine.Disks[i].Disk;
                            if (machine.Disks[i].ReadOnly) continue;
                            try { disk.Flush(); }
                            catch (IOException e) { throw Sender.DiskError(i, disk, "flush", e); }
                        }
                        state.Position = 0;
                        options.State.RestoreState(machine, state);
                        options.State.Start(machine);
                        MigrationProtocol.WriteFrame(stream, FrameType.Resumed, []);
                        stream.Flush();
                        return;
                    case FrameType.Error:
                        throw new MigrationException($"the source abandoned the migration: {MigrationProtocol.DecodeMessage(p)}");
                    default:
                        throw new MigrationException($"migration stream: unexpected {type} frame");
                }
            }
        }

        /// <summary>Applies a batch, checking every index and length against the region before writing.</summary>
        private static long ApplyPages(IReadOnlyList<GuestRam> regions, ReadOnlySpan<byte> p)
        {
            Expect(p.Length >= 8, "page batch");
            uint region = BinaryPrimitives.ReadUInt32LittleEndian(p);
            uint count = BinaryPrimitives.ReadUInt32LittleEndian(p[4..]);
            Expect(region < regions.Count && count is > 0 and <= MigrationProtocol.PagesPerBatch, "page batch header");
            GuestRam ram = regions[(int)region];
            int at = 8;
            for (uint i = 0; i < count; i++)
            {
                Expect(p.Length - at >= 8, "page batch length");
                ulong entry = BinaryPrimitives.ReadUInt64LittleEndian(p[at..]);
                at += 8;
                ulong page = entry & ~MigrationProtocol.ZeroPageFlag;
                Expect(page < ram.PageCount, "page index");
                Span<byte> target = ram.AsSpan(page << GuestRam.PageShift, MigrationProtocol.PageSize);
                if ((entry & MigrationProtocol.ZeroPageFlag) != 0) target.Clear();
                else
                {
                    Expect(p.Length - at >= MigrationProtocol.PageSize, "page batch length");
                    p.Slice(at, MigrationProtocol.PageSize).CopyTo(target);
                    at += MigrationProtocol.PageSize;
                }
            }
            Expect(at == p.Length, "page batch length");
            return count;
        }

        /// <summary>Writes a batch of disk blocks, checking the disk, every index and every length against the
        /// destination's own disk before writing.</summary>
        private static long ApplyDiskBlocks(VirtMachine machine, ReadOnlySpan<byte> p)
        {
            Expect(p.Length >= 8, "disk block batch");
            uint disk = BinaryPrimitives.ReadUInt32LittleEndian(p);
            uint count = BinaryPrimitives.ReadUInt32LittleEndian(p[4..]);
            Expect(disk < machine.Disks.Count && !machine.Disks[(int)disk].ReadOnly, "disk index");
            Expect(count is > 0 and <= MigrationProtocol.DiskBlocksPerBatch, "disk block batch header");
            IDiskImage image = machine.Disks[(int)disk].Disk;
            ulong blocks = (image.Length + MigrationProtocol.DiskBlockSize - 1) / MigrationProtocol.DiskBlockSize;
            int at = 8;
            for (uint i = 0; i < count; i++)
            {
                Expect(p.Length - at >= 8, "disk block batch length");
                ulong entry = BinaryPrimitives.ReadUInt64LittleEndian(p[at..]);
                at += 8;
                ulong block = entry & ~MigrationProtocol.ZeroBlockFlag;
                Expect(block < blocks, "disk block index");
                ulong offset = block * MigrationProtocol.DiskBlockSize;
                int length = (int)Math.Min(MigrationProtocol.DiskBlockSize, image.Length - offset);
                try
                {
                    if ((entry & MigrationProtocol.ZeroBlockFlag) != 0) image.WriteZeroes(offset, (ulong)length, mayUnmap: true);
                    else
                    {
                        Expect(p.Length - at >= length, "disk block batch length");
                        image.Write(offset, p.Slice(at, length));
                        at += length;
                    }
                }
                catch (IOException e)
                {
                    throw Sender.DiskError((int)disk, image, "write", e);
                }
            }
            Expect(at == p.Length, "disk block batch length");
            return count;
        }

        private static void Expect(bool ok, string what)
        {
            if (!ok) throw new MigrationException($"migration stream: bad {what}");
        }

        private void TrySend(FrameType type, ReadOnlySpan<byte> payload)
        {
            try
            {
                MigrationProtocol.WriteFrame(stream, type, payload);
                stream.Flush();
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or NotSupportedException)
            {
                // The source learns of the failure from its end of the stream.
            }
        }
    }
}
