using System.Runtime.InteropServices;
using System.Text;
using RedisSidecars.Core.Addressing;
using RedisSidecars.Core.Settings;

namespace RedisSidecars.InitConfig.Output;

/// <summary>Writes a file atomically: a 0600 temp file in the same directory, fsync, rename, fsync the directory.</summary>
public static partial class AtomicFile
{
    const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public static void Write(string path, string content)
    {
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        var temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var fs = new FileStream(temp, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
                UnixCreateMode = OwnerOnly,
            }))
            {
                fs.Write(Encoding.UTF8.GetBytes(content));
                fs.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
            FsyncDirectory(dir);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>Fails early (before any network work) when <paramref name="path"/>'s directory cannot take a new file.</summary>
    /// <returns>Null, or the problem in the words of <see cref="PathProblem"/>, to follow the path in an error line.</returns>
    public static string? ProbeWritable(string path)
    {
        var files = PhysicalSettingsFiles.Instance;
        var full = Path.GetFullPath(path);
        var dir = Path.GetDirectoryName(full)!;
        if (files.KindOf(full) == PathKind.Directory) return PathProblem.IsDirectory;
        if (PathProblem.OfDirectory(files, dir) is { } problem) return $"cannot be written: its directory '{NodeAddress.Printable(dir)}' {problem}";
        var probe = Path.Combine(dir, $".redis-init-probe.{Environment.ProcessId}.{Guid.NewGuid():N}");
        try
        {
            using (new FileStream(probe, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = OwnerOnly })) { }
            File.Delete(probe);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"cannot be written: its directory '{NodeAddress.Printable(dir)}' {PathProblem.OfAccess(e, writing: true)}";
        }
    }

    static void FsyncDirectory(string dir)
    {
        var fd = Open(dir, 0 /* O_RDONLY */);
        if (fd < 0) return; // best effort: the rename itself is atomic
        try { _ = Fsync(fd); } finally { _ = Close(fd); }
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "fsync")]
    private static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);
}
