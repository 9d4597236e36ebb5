using System.Globalization;
using System.Runtime.InteropServices;

namespace RedisSidecars.PodTests.Kubelet;

/// <summary>One file of a ConfigMap, Secret, projected or downward-API volume: path inside the volume, bytes, mode.</summary>
public sealed record VolumeFile(string Path, byte[] Content, int Mode);

/// <summary>
/// Volume contents and ownership as the kubelet makes them: the AtomicWriter layout (files in a timestamped
/// directory, <c>..data</c> pointing at it, each top-level name a symlink through <c>..data</c>) and fsGroup
/// ownership (pkg/volume/volume_linux.go SetVolumeOwnership: group = fsGroup, files gain group read (and write
/// unless read-only), directories gain setgid and group execute).
/// </summary>
public static partial class VolumeFiles
{
    /// <summary>Writes <paramref name="files"/> into the empty directory <paramref name="root"/> the way AtomicWriter does.</summary>
    public static void WriteAtomically(string root, IReadOnlyList<VolumeFile> files, DateTimeOffset now)
    {
        Directory.CreateDirectory(root);
        var stamp = $"..{now.UtcDateTime.ToString("yyyy_MM_dd_HH_mm_ss", CultureInfo.InvariantCulture)}.{Random.Shared.Next(100_000_000, 999_999_999)}";
        var data = Path.Combine(root, stamp);
        Directory.CreateDirectory(data);
        File.SetUnixFileMode(data, (UnixFileMode)Convert.ToInt32("755", 8));
        foreach (var file in files)
        {
            if (file.Path.StartsWith('/') || file.Path.Split('/').Any(p => p is ".." or "." or ""))
                throw new InvalidOperationException($"invalid volume file path '{file.Path}' (the API server rejects it)");
            var target = Path.Combine(data, file.Path);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.WriteAllBytes(target, file.Content);
            File.SetUnixFileMode(target, (UnixFileMode)file.Mode);
        }
        File.CreateSymbolicLink(Path.Combine(root, "..data"), stamp);
        foreach (var top in files.Select(f => f.Path.Split('/')[0]).Distinct(StringComparer.Ordinal))
            File.CreateSymbolicLink(Path.Combine(root, top), Path.Combine("..data", top));
    }

    /// <summary>
    /// Applies fsGroup ownership to a volume. With <paramref name="onRootMismatch"/> (fsGroupChangePolicy
    /// OnRootMismatch) nothing changes when the root already has the group, setgid and the permission bits.
    /// </summary>
    public static void ApplyFsGroup(string root, int fsGroup, bool readOnly, bool onRootMismatch)
    {
        var mask = readOnly ? Convert.ToInt32("440", 8) : Convert.ToInt32("660", 8);
        if (onRootMismatch && Stat(root) is var (gid, mode) && gid == fsGroup && (mode & 0x400) != 0 && (mode & (mask | Convert.ToInt32("110", 8))) == (mask | Convert.ToInt32("110", 8)))
            return;
        Walk(root);

        void Walk(string path)
        {
            var info = new FileInfo(path);
            Chown(path, -1, fsGroup);
            if (info.LinkTarget is not null) return; // symlinks: owner only
            var isDir = (info.Attributes & FileAttributes.Directory) != 0;
            var mode = File.GetUnixFileMode(path) | (UnixFileMode)mask;
            if (isDir) mode |= (UnixFileMode)Convert.ToInt32("110", 8) | UnixFileMode.SetGroup;
            File.SetUnixFileMode(path, mode);
            if (isDir)
                foreach (var child in Directory.EnumerateFileSystemEntries(path)) Walk(child);
        }
    }

    /// <summary>chown(2) without following symlinks; uid or gid -1 leaves it unchanged.</summary>
    public static void Chown(string path, int uid, int gid)
    {
        if (LChown(path, uid, gid) != 0)
            throw new IOException($"lchown {path} {uid}:{gid} failed (errno {Marshal.GetLastPInvokeError()}); the pod tests play the kubelet and need root");
    }

    /// <summary>Group id and mode bits (including setuid/setgid/sticky) of a path.</summary>
    static (int Gid, int Mode) Stat(string path)
    {
        // `stat -c` keeps this free of the struct stat layout.
        var psi = new System.Diagnostics.ProcessStartInfo("stat", ["-c", "%g %a", path]) { RedirectStandardOutput = true, UseShellExecute = false };
        using var p = System.Diagnostics.Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd().Trim().Split(' ');
        p.WaitForExit();
        if (p.ExitCode != 0 || output.Length != 2) throw new IOException($"stat {path} failed");
        return (int.Parse(output[0], CultureInfo.InvariantCulture), Convert.ToInt32(output[1], 8));
    }

    [LibraryImport("libc", EntryPoint = "lchown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LChown(string path, int owner, int group);
}
