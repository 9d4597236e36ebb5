namespace RedisSidecars.E2E.Deploy;

/// <summary>An image reference split the way kustomize's <c>images:</c> entries want it: name, and a tag or a digest.</summary>
public sealed record ImageReference(string Name, string? Tag, string? Digest)
{
    /// <summary>Parses "registry:5000/path/name:tag", "name@sha256:…", "name"; null with a reason for anything else.</summary>
    public static ImageReference? TryParse(string text, out string? problem)
    {
        problem = null;
        if (string.IsNullOrWhiteSpace(text) || text.Any(char.IsWhiteSpace))
        {
            problem = $"'{text}' is not an image reference (expected NAME[:TAG] or NAME@sha256:DIGEST)";
            return null;
        }
        string? digest = null;
        var rest = text;
        var at = rest.IndexOf('@', StringComparison.Ordinal);
        if (at >= 0)
        {
            digest = rest[(at + 1)..];
            rest = rest[..at];
            if (!digest.StartsWith("sha256:", StringComparison.Ordinal) || digest.Length != 71 || !digest[7..].All(Uri.IsHexDigit))
            {
                problem = $"'{text}': the digest must be sha256: followed by 64 hex digits";
                return null;
            }
        }
        string? tag = null;
        var slash = rest.LastIndexOf('/');
        var colon = rest.LastIndexOf(':');
        if (colon > slash) // a colon before the last slash is a registry port, not a tag
        {
            tag = rest[(colon + 1)..];
            rest = rest[..colon];
            if (tag.Length == 0)
            {
                problem = $"'{text}': empty tag";
                return null;
            }
        }
        if (rest.Length == 0 || rest.EndsWith('/') || rest.StartsWith('/'))
        {
            problem = $"'{text}': no image name";
            return null;
        }
        return new ImageReference(rest, tag, digest);
    }

    public override string ToString() => Name + (Tag is null ? "" : ":" + Tag) + (Digest is null ? "" : "@" + Digest);
}
