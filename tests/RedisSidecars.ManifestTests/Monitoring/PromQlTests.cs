using RedisSidecars.ManifestTests.Infrastructure;

namespace RedisSidecars.ManifestTests.Monitoring;

/// <summary>The selector lexer the alert and dashboard checks rely on.</summary>
public class PromQlTests
{
    [Fact]
    public void Selectors_AggregationsFunctionsAndGroupings_AreNotMetrics()
    {
        var s = PromQl.Selectors("histogram_quantile(0.99, sum by (le) (increase(latency_bucket{namespace=\"$namespace\"}[$__rate_interval])))");

        var one = Assert.Single(s);
        Assert.Equal("latency_bucket", one.Metric);
        Assert.Equal("namespace=\"$namespace\"", one.Matchers);
    }

    [Fact]
    public void Selectors_BinaryOperatorsOffsetsAndVectorMatching_FindEveryOperand()
    {
        var expr = """
            count by (namespace, service) (role)
              unless on (namespace, service)
            count(role == 2) by (namespace) > 1
              or
            total{outcome!~"A|B"} offset 15m and bool up{job="x"} * ignoring(pod) group_left(pod) info or vector(0)
            """;

        Assert.Equal(["role", "role", "total", "up", "info"], PromQl.Selectors(expr).Select(s => s.Metric));
    }

    [Fact]
    public void Selectors_StringsContainingBraces_DoNotEndTheMatchers()
    {
        var s = Assert.Single(PromQl.Selectors("m{a=\"}{\", b='x\\'y'}"));
        Assert.Equal("m", s.Metric);
        Assert.Equal("a=\"}{\", b='x\\'y'", s.Matchers);
    }

    [Fact]
    public void Selectors_NamelessSelector_IsReportedWithAnEmptyName()
    {
        var s = Assert.Single(PromQl.Selectors("rate({__name__=~\"redis_.*\"}[5m])"));
        Assert.Equal("", s.Metric);
    }

    [Fact]
    public void Selectors_NumbersDurationsAndVariables_AreSkipped()
    {
        Assert.Empty(PromQl.Selectors("1e3 + 0.5 * 15m + $__range_s + ${x} - Inf"));
    }

    [Fact]
    public void Selectors_UnbalancedBrace_Throws()
    {
        Assert.Throws<FormatException>(() => PromQl.Selectors("m{a=\"b\""));
    }
}
