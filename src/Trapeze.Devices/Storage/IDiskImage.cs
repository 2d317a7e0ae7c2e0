namespace Trapeze.Devices.Storage;

/// <summary>
/// A disk's contents as a flat array of bytes (raw today; qcow2 later). Offsets and lengths are checked
/// by the caller against <see cref="Length"/>. Host I/O errors surface as <see cref="IOException"/>, which
/// a device turns into an I/O error status for the guest.
/// </summary>
public interface IDiskImage : IDisposable
{
    /// <summary>For messages (the file name).</summary>
    string Name { get; }

    /// <summary>Size in bytes, fixed while the machine runs.</summary>
    ulong Length { get; }

    bool ReadOnly { get; }

    /// <summary>Reads into <paramref name="buffer"/>; bytes past the end of the backing file read as zero.</summary>
    void Read(ulong offset, Span<byte> buffer);

    void Write(ulong offset, ReadOnlySpan<byte> data);

    /// <summary>Makes every completed write durable (fdatasync).</summary>
    void Flush();

    /// <summary>The range's contents are no longer needed: the image may release its storage (the data
    /// read afterwards is unspecified: old data or zeroes).</summary>
    void Discard(ulong offset, ulong length);

    /// <summary>The range reads as zeroes afterwards; with <paramref name="mayUnmap"/> its storage may be released.</summary>
    void WriteZeroes(ulong offset, ulong length, bool mayUnmap);
}

/// <summary>A disk image that cannot be used (missing, unreadable, locked, wrong format): one line for the user.</summary>
public sealed class DiskImageException(string message, Exception? inner = null) : Exception(message, inner);
