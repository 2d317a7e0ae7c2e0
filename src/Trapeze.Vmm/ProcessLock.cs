namespace Trapeze.Vmm;

/// <summary>
/// An advisory whole-file lock (flock(2)): .NET opens a file with <see cref="FileShare.None"/> under
/// <c>flock(LOCK_EX | LOCK_NB)</c> on Unix. The kernel drops it when the holder exits, even by SIGKILL, which
/// is what makes it the test of "is this VM running".
/// </summary>
public static class ProcessLock
{
    /// <summary>Takes the lock, or returns null if another process holds it. Keep the stream open to hold it.</summary>
    public static FileStream? TryAcquire(string path)
    {
        try { return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None); }
        catch (IOException) when (File.Exists(path)) { return null; }
    }

    public static bool IsHeld(string path)
    {
        if (!File.Exists(path)) return false;
        using FileStream? probe = TryAcquire(path);
        return probe == null;
    }
}
