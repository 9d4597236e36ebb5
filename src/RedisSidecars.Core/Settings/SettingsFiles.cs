using RedisSidecars.Core.Addressing;

namespace RedisSidecars.Core.Settings;

/// <summary>What a path names, without opening it.</summary>
public enum PathKind { Missing, File, Directory }

/// <summary>The file operations validation needs (<c>*_FILE</c> secrets, TLS files, KUBECONFIG).</summary>
public interface ISettingsFiles
{
    /// <summary>Reads a whole file; throws <see cref="IOException"/> or <see cref="UnauthorizedAccessException"/> on failure.</summary>
    string ReadAllText(string path);

    /// <summary>What <paramref name="path"/> names (following symbolic links, as a mounted Secret's keys are).</summary>
    PathKind KindOf(string path);
}

/// <summary>The real file system behind settings validation.</summary>
public sealed class PhysicalSettingsFiles : ISettingsFiles
{
    public static readonly PhysicalSettingsFiles Instance = new();

    public string ReadAllText(string path) => File.ReadAllText(path);

    public PathKind KindOf(string path) =>
        Directory.Exists(path) ? PathKind.Directory : File.Exists(path) ? PathKind.File : PathKind.Missing;
}

/// <summary>
/// The one describer of a path that cannot be used, for every path both programs take (<c>--template</c>,
/// <c>--config</c>, <c>--output</c>, <c>*_FILE</c>, <c>TLS_*_FILE</c>, <c>KUBECONFIG</c>, <c>DATA_DIR</c>).
/// Each cause has its own words: a directory where a file was expected, a missing path (and whether its
/// directory is missing too), a permission problem. Nothing read from the file appears.
/// </summary>
public static class PathProblem
{
    public const string IsDirectory = "is a directory, not a file";
    public const string IsFile = "is a file, not a directory";
    public const string NotReadable = "is not readable by this process (permission denied)";
    public const string NotWritable = "is not writable by this process (permission denied)";

    /// <summary>Why reading the file at <paramref name="path"/> failed with <paramref name="e"/>.</summary>
    /// <remarks>On Linux, opening a directory for reading fails with "access denied": the path is looked at
    /// again so that case reads as a directory, not as a permission problem.</remarks>
    public static string OfFile(ISettingsFiles files, string path, Exception e)
    {
        var kind = KindOrMissing(files, path);
        if (kind == PathKind.Directory) return IsDirectory;
        return e switch
        {
            UnauthorizedAccessException => NotReadable,
            FileNotFoundException or DirectoryNotFoundException => Missing(files, path),
            _ when kind == PathKind.Missing => Missing(files, path),
            _ => $"cannot be read ({e.GetType().Name})",
        };
    }

    /// <summary>"does not exist", saying so when its directory is missing too (an unmounted volume).</summary>
    public static string Missing(ISettingsFiles files, string path)
    {
        var parent = ParentOf(path);
        return parent is not null && KindOrMissing(files, parent) == PathKind.Missing
            ? $"does not exist, and neither does its directory '{NodeAddress.Printable(parent)}'"
            : "does not exist";
    }

    /// <summary>Reads a file; on failure returns null and the reason in the words of <see cref="OfFile"/>.</summary>
    public static string? TryRead(ISettingsFiles files, string path, out string? problem)
    {
        try
        {
            var text = files.ReadAllText(path);
            problem = null;
            return text;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            problem = OfFile(files, path, e);
            return null;
        }
    }

    /// <summary>Why a directory (<c>DATA_DIR</c>, <c>--output</c>'s directory) cannot be used, or null when it is one.</summary>
    public static string? OfDirectory(ISettingsFiles files, string path) => KindOrMissing(files, path) switch
    {
        PathKind.Directory => null,
        PathKind.File => IsFile,
        _ => Missing(files, path),
    };

    /// <summary>A permission problem in the words used everywhere else; any other I/O failure by its type.</summary>
    public static string OfAccess(Exception e, bool writing) =>
        e is UnauthorizedAccessException ? (writing ? NotWritable : NotReadable) : $"cannot be used ({e.GetType().Name})";

    static PathKind KindOrMissing(ISettingsFiles files, string path)
    {
        try { return files.KindOf(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException) { return PathKind.Missing; }
    }

    static string? ParentOf(string path)
    {
        try
        {
            var parent = Path.GetDirectoryName(path.TrimEnd('/'));
            return string.IsNullOrEmpty(parent) ? null : parent;
        }
        catch (ArgumentException) { return null; }
    }
}
