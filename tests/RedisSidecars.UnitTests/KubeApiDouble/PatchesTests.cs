using System.Text.Json.Nodes;
using RedisSidecars.KubeApiDouble;
using Xunit;

namespace RedisSidecars.UnitTests.KubeApiDouble;

public sealed class PatchesTests
{
    private static JsonNode J(string json) => JsonNode.Parse(json)!;

    private static void AssertJson(string expected, JsonNode? actual) =>
        Assert.True(JsonNode.DeepEquals(J(expected), actual), $"expected {expected}, got {actual?.ToJsonString()}");

    [Fact]
    public void MergePatch_NullMemberAndList_DeletesMemberAndReplacesList()
    {
        var target = J("""{"a":{"b":1,"c":2},"l":[{"type":"Ready"},{"type":"X"}]}""");

        var result = Patches.MergePatch(target, J("""{"a":{"b":null,"d":3},"l":[{"type":"Y"}]}"""));

        AssertJson("""{"a":{"c":2,"d":3},"l":[{"type":"Y"}]}""", result);
        AssertJson("""{"a":{"b":1,"c":2},"l":[{"type":"Ready"},{"type":"X"}]}""", target);
    }

    [Fact]
    public void StrategicMergePatch_DeleteDirective_RemovesConditionByType()
    {
        var target = J("""{"status":{"conditions":[{"type":"Ready","status":"True"},{"type":"Mine","status":"True"}]}}""");

        var result = Patches.StrategicMergePatch(target, J("""{"status":{"conditions":[{"$patch":"delete","type":"Mine"}]}}"""));

        AssertJson("""{"status":{"conditions":[{"type":"Ready","status":"True"}]}}""", result);
    }

    [Fact]
    public void StrategicMergePatch_ReplaceDirectiveInList_ReplacesWholeList()
    {
        var target = J("""{"status":{"conditions":[{"type":"Ready"},{"type":"Mine"}]}}""");

        var result = Patches.StrategicMergePatch(target, J("""{"status":{"conditions":[{"$patch":"replace"},{"type":"Only"}]}}"""));

        AssertJson("""{"status":{"conditions":[{"type":"Only"}]}}""", result);
    }

    [Fact]
    public void StrategicMergePatch_OwnerReferencesAndContainerEnv_MergeOnTheirKeys()
    {
        var target = J("""{"metadata":{"ownerReferences":[{"uid":"1","name":"a"}]},"spec":{"containers":[{"name":"redis","env":[{"name":"A","value":"1"}]}],"tolerations":[{"key":"x"}]}}""");

        var result = Patches.StrategicMergePatch(target, J(
            """{"metadata":{"ownerReferences":[{"uid":"2","name":"b"}]},"spec":{"containers":[{"name":"redis","env":[{"name":"B","value":"2"}]}],"tolerations":[{"key":"y"}],"$setElementOrder/containers":[{"name":"redis"}]}}"""));

        AssertJson("""{"metadata":{"ownerReferences":[{"uid":"1","name":"a"},{"uid":"2","name":"b"}]},"spec":{"containers":[{"name":"redis","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]}],"tolerations":[{"key":"y"}]}}""", result);
    }

    [Fact]
    public void StrategicMergePatch_ItemWithoutMergeKey_Throws422()
    {
        var e = Assert.Throws<KubeApiException>(() => Patches.StrategicMergePatch(
            J("""{"status":{"conditions":[]}}"""), J("""{"status":{"conditions":[{"status":"True"}]}}""")));

        Assert.Equal(422, e.Code);
        Assert.Contains("does not contain declared merge key: type", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void JsonPatch_MoveCopyReplaceAndTilde_ApplyInOrder()
    {
        var result = Patches.JsonPatch(J("""{"metadata":{"labels":{"a~b":"1","x":"2"}},"l":[1,2]}"""), J("""
            [{"op":"copy","from":"/metadata/labels/a~0b","path":"/metadata/labels/c"},
             {"op":"move","from":"/metadata/labels/x","path":"/metadata/labels/y"},
             {"op":"replace","path":"/l/0","value":9},
             {"op":"add","path":"/l/-","value":3}]
            """).AsArray());

        AssertJson("""{"metadata":{"labels":{"a~b":"1","c":"1","y":"2"}},"l":[9,2,3]}""", result);
    }

    [Theory]
    [InlineData("""[{"op":"remove","path":"/metadata/labels/missing"}]""")]
    [InlineData("""[{"op":"replace","path":"/metadata/missing/x","value":1}]""")]
    [InlineData("""[{"op":"test","path":"/metadata/labels/role","value":"master"}]""")]
    public void JsonPatch_PathMissingOrTestFails_Throws422(string operations)
    {
        var e = Assert.Throws<KubeApiException>(() =>
            Patches.JsonPatch(J("""{"metadata":{"labels":{"role":"replica"}}}"""), J(operations).AsArray()));

        Assert.Equal(422, e.Code);
    }
}

public sealed class LabelSelectorTests
{
    private static readonly Dictionary<string, string> Pod = new() { ["app"] = "redis", ["role"] = "master", ["redis.io/tier"] = "cache" };

    [Theory]
    [InlineData("app=redis", true)]
    [InlineData("app==redis,role=master", true)]
    [InlineData("app=redis,role=replica", false)]
    [InlineData("role!=replica", true)]
    [InlineData("missing!=x", true)]
    [InlineData("redis.io/tier", true)]
    [InlineData("!redis.io/tier", false)]
    [InlineData("!missing", true)]
    [InlineData("role in (replica, master)", true)]
    [InlineData("role notin (master)", false)]
    [InlineData("missing notin (a,b)", true)]
    [InlineData(" app = redis , role in (master) ", true)]
    public void Matches_Selector_AgreesWithApiServer(string selector, bool expected) =>
        Assert.Equal(expected, LabelSelector.Parse(selector).Matches(Pod));

    [Theory]
    [InlineData("role in ()")]
    [InlineData("bad key=x")]
    [InlineData("role=bad value!")]
    [InlineData("a,,b")]
    public void Parse_Malformed_ThrowsFormatException(string selector) =>
        Assert.Throws<FormatException>(() => LabelSelector.Parse(selector));
}
