using RedisSidecars.Core.Settings;

namespace RedisSidecars.InitConfig.Output;

/// <summary>Whether a Redis data directory holds a dataset (an RDB or AOF file), for the empty-restart guard.</summary>
public static class DataDir
{
    /// <summary>Why <paramref name="dir"/> cannot be looked into (missing, a file, not readable), or null. Checked
    /// before the guard relies on it: an unreadable directory would otherwise look empty.</summary>
    public static string? Problem(string dir)
    {
        if (PathProblem.OfDirectory(PhysicalSettingsFiles.Instance, dir) is { } problem) return problem;
        try
        {
            using var entries = Directory.EnumerateFileSystemEntries(dir).GetEnumerator();
            _ = entries.MoveNext();
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return PathProblem.OfAccess(e, writing: false);
        }
    }

    public static bool HasData(string dir)
    {
        if (!Directory.Exists(dir)) return false;
        try
        {
            var options = new EnumerationOptions { RecurseSubdirectories = true, MaxRecursionDepth = 1, IgnoreInaccessible = true };
            return Directory.EnumerateFiles(dir, "*", options)
                .Any(f => (f.EndsWith(".rdb", StringComparison.Ordinal) || f.EndsWith(".aof", StringComparison.Ordinal)) && new FileInfo(f).Length > 0);
        }
        catch (IOException) { return false; }
    }
}
