using RedisSidecars.E2E.Deploy;

namespace RedisSidecars.E2E.Tests.Deploy;

public class ImageReferenceTests
{
    const string Digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    [Theory]
    [InlineData("redis", "redis", null, null)]
    [InlineData("redis:7.4.2-alpine", "redis", "7.4.2-alpine", null)]
    [InlineData("localhost:5000/redis-sidecars/redis-init", "localhost:5000/redis-sidecars/redis-init", null, null)]
    [InlineData("localhost:5000/redis-sidecars/redis-init:dev", "localhost:5000/redis-sidecars/redis-init", "dev", null)]
    [InlineData("ghcr.io/o/redis-sidecar@" + Digest, "ghcr.io/o/redis-sidecar", null, Digest)]
    [InlineData("ghcr.io/o/redis-sidecar:1.0@" + Digest, "ghcr.io/o/redis-sidecar", "1.0", Digest)]
    public void TryParse_SplitsNameTagAndDigest(string text, string name, string? tag, string? digest)
    {
        var image = ImageReference.TryParse(text, out var problem);
        Assert.Null(problem);
        Assert.Equal(new ImageReference(name, tag, digest), image);
        Assert.Equal(text, image!.ToString());
    }

    [Theory]
    [InlineData("", "not an image reference")]
    [InlineData("redis 7", "not an image reference")]
    [InlineData("redis:", "empty tag")]
    [InlineData("redis@sha256:abc", "64 hex digits")]
    [InlineData("redis@md5:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "64 hex digits")]
    [InlineData(":tag", "no image name")]
    [InlineData("reg:5000/", "no image name")]
    public void TryParse_Bad_SaysWhy(string text, string why)
    {
        Assert.Null(ImageReference.TryParse(text, out var problem));
        Assert.Contains(why, problem, StringComparison.Ordinal);
    }
}
