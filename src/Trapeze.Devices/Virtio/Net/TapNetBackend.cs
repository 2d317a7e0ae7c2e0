using System.Runtime.InteropServices;

namespace Trapeze.Devices.Virtio.Net;

/// <summary>
/// A Linux TAP interface (<c>/dev/net/tun</c>, IFF_TAP | IFF_NO_PI): each read or write is one Ethernet
/// frame. Opening needs CAP_NET_ADMIN, or an interface made beforehand for this user
/// (<c>ip tuntap add NAME mode tap user USER</c>). The link is always up.
/// </summary>
public sealed partial class TapNetBackend : INetBackend
{
    private const int O_RDWR = 2, O_CLOEXEC = 0x80000;
    private const ulong TUNSETIFF = 0x400454ca;
    private const short IFF_TAP = 0x0002, IFF_NO_PI = 0x1000;
    private const short POLLIN = 1;
    private const int IfNameSize = 16;

    private readonly int _fd;
    private volatile bool _stopped;
    private FrameSender? _sender;
    private Thread? _reader;
    private INetBackendSink? _sink;

    private TapNetBackend(int fd, string name)
    {
        _fd = fd;
        InterfaceName = name;
    }

    /// <summary>Attaches to (or creates) TAP interface <paramref name="ifname"/>; <see cref="IOException"/>
    /// with the system's reason when that is not possible.</summary>
    public static TapNetBackend Open(string ifname)
    {
        if (!OperatingSystem.IsLinux()) throw new IOException("TAP interfaces are supported on Linux only");
        if (ifname.Length == 0 || ifname.Length >= IfNameSize || ifname.Any(c => c <= ' ' || c > '~' || c == '/'))
            throw new IOException($"'{ifname}' is not an interface name (1 to 15 printable characters)");
        int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        if (fd < 0) throw new IOException($"cannot open /dev/net/tun: {Marshal.GetLastPInvokeErrorMessage()}");
        // struct ifreq: ifr_name[16], then the union whose first member here is ifr_flags.
        Span<byte> ifr = stackalloc byte[40];
        ifr.Clear();
        for (int i = 0; i < ifname.Length; i++) ifr[i] = (byte)ifname[i];
        BitConverter.TryWriteBytes(ifr[IfNameSize..], (short)(IFF_TAP | IFF_NO_PI));
        unsafe
        {
            fixed (byte* p = ifr)
            {
                if (ioctl(fd, TUNSETIFF, p) < 0)
                {
                    string reason = Marshal.GetLastPInvokeErrorMessage();
                    close(fd);
                    throw new IOException($"cannot attach to TAP interface '{ifname}': {reason}");
                }
            }
        }
        int end = ifr[..IfNameSize].IndexOf((byte)0);
        return new TapNetBackend(fd, System.Text.Encoding.ASCII.GetString(ifr[..(end < 0 ? IfNameSize : end)]));
    }

    public string InterfaceName { get; }

    public string Name => $"tap {InterfaceName}";

    public bool LinkUp => true;

    public void Start(INetBackendSink sink)
    {
        _sink = sink;
        _sender = new FrameSender($"net-tx {InterfaceName}", WriteFrame);
        _reader = new Thread(Run) { IsBackground = true, Name = $"net-rx {InterfaceName}" };
        _reader.Start();
    }

    public bool TrySend(ReadOnlySpan<byte> frame) => _sender!.TryAdd(frame);

    private unsafe void WriteFrame(byte[] frame)
    {
        // A failed write (the interface is down: EIO) loses the frame, as a cable would.
        fixed (byte* p = frame) _ = write(_fd, p, (nuint)frame.Length);
    }

    private unsafe void Run()
    {
        byte[] buffer = new byte[VirtioNet.MaxFrame + 1];
        var pfd = new PollFd { Fd = _fd, Events = POLLIN };
        while (!_stopped)
        {
            // poll with a time-out so that Dispose is noticed: a read blocked in the kernel is not woken by close.
            pfd.Revents = 0;
            int ready = poll(&pfd, 1, 200);
            if (ready <= 0 || _stopped) continue;
            nint n;
            fixed (byte* p = buffer) n = read(_fd, p, (nuint)buffer.Length);
            if (n > 0) _sink!.OnFrameReceived(buffer.AsSpan(0, (int)n));
            else if (n == 0) return;
            else if (Marshal.GetLastPInvokeError() is not (4 or 11)) return; // EINTR, EAGAIN
        }
    }

    public void Dispose()
    {
        _stopped = true;
        _sender?.Dispose();
        _reader?.Join(TimeSpan.FromSeconds(2));
        close(_fd);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int ioctl(int fd, ulong request, void* argp);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint read(int fd, void* buffer, nuint count);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint write(int fd, void* buffer, nuint count);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int poll(PollFd* fds, nuint count, int timeout);

    [LibraryImport("libc")]
    private static partial int close(int fd);
}
