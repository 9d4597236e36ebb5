namespace RedisSidecars.InitConfig.Output;

/// <summary>Whether a Redis data directory holds a dataset (an RDB or AOF file), for the empty-restart guard.</summary>
public static class DataDir
{
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
