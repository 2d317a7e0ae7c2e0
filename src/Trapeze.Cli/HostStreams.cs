using System.Runtime.InteropServices;
using System.Text;

namespace Trapeze.Cli;

/// <summary>
/// stdout and stderr as plain file descriptors. System.Console is not used for the guest console's
/// terminal: on first use it initialises the terminal (keypad transmit mode, left set after exit) and
/// re-applies its own settings whenever a child process exits.
/// </summary>
public static class HostStreams
{
    public static readonly TextWriter Out = Writer(1);
    public static readonly TextWriter Error = Writer(2);

    public static Stream OpenStdout() => new FdWriteStream(1);

    private static TextWriter Writer(int fd) =>
        TextWriter.Synchronized(new StreamWriter(new FdWriteStream(fd), new UTF8Encoding(false)) { AutoFlush = true });
}

/// <summary>
/// Writes to a file descriptor with write(2) at the descriptor's own offset. A FileStream over a regular
/// file keeps a position of its own and writes there, so when stdout and stderr share one file
/// (<c>&gt; log 2&gt;&amp;1</c>) each stream would overwrite what the other wrote.
/// </summary>
internal sealed unsafe partial class FdWriteStream(int fd) : Stream
{
    private const int EINTR = 4, EAGAIN = 11;

    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            int done = 0;
            while (done < buffer.Length)
            {
                nint n = write(fd, p + done, (nuint)(buffer.Length - done));
                if (n >= 0) { done += (int)n; continue; }
                int errno = Marshal.GetLastPInvokeError();
                if (errno == EINTR) continue;
                if (errno == EAGAIN) { Thread.Sleep(1); continue; } // a non-blocking terminal or pipe that is full
                throw new IOException($"write to descriptor {fd} failed: {Marshal.GetPInvokeErrorMessage(errno)}");
            }
        }
    }

    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint write(int fd, byte* buffer, nuint count);
}
