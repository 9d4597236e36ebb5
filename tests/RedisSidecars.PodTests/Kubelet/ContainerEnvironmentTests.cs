using k8s.Models;

namespace RedisSidecars.PodTests.Kubelet;

/// <summary>The harness's kubelet environment rules, against what the kubelet documents and does (no Docker needed).</summary>
public sealed class ContainerEnvironmentTests
{
    static ServiceLink Sentinel(string ns = "redis") =>
        new("sentinel", ns, "10.96.0.7", [new V1ServicePort { Name = "sentinel", Port = 26379, Protocol = "TCP" }]);

    static readonly ServiceLink Kubernetes = new("kubernetes", "default", "10.96.0.1", [new V1ServicePort { Name = "https", Port = 443 }]);

    static readonly EnvironmentSources NoSources = new(new Dictionary<string, string> { ["metadata.name"] = "redis-0", ["status.podIP"] = "172.31.1.2" }, _ => null, _ => null);

    [Fact]
    public void ServiceVariables_ClusterIpService_AreTheKubeletsNamesAndValues()
    {
        var env = ContainerEnvironment.ServiceVariables(Sentinel()).ToDictionary();

        Assert.Equal(new Dictionary<string, string>
        {
            ["SENTINEL_SERVICE_HOST"] = "10.96.0.7",
            ["SENTINEL_SERVICE_PORT"] = "26379",
            ["SENTINEL_SERVICE_PORT_SENTINEL"] = "26379",
            ["SENTINEL_PORT"] = "tcp://10.96.0.7:26379",
            ["SENTINEL_PORT_26379_TCP"] = "tcp://10.96.0.7:26379",
            ["SENTINEL_PORT_26379_TCP_PROTO"] = "tcp",
            ["SENTINEL_PORT_26379_TCP_PORT"] = "26379",
            ["SENTINEL_PORT_26379_TCP_ADDR"] = "10.96.0.7",
        }, env);
    }

    [Fact]
    public void ServiceVariables_HeadlessServiceOrDashedName_NoneOrUnderscored()
    {
        Assert.Empty(ContainerEnvironment.ServiceVariables(new ServiceLink("redis-headless", "redis", "None", [new V1ServicePort { Port = 6379 }])));
        var env = ContainerEnvironment.ServiceVariables(new ServiceLink("redis-master", "redis", "10.96.0.9", [new V1ServicePort { Port = 6379 }])).ToDictionary();
        Assert.Equal("tcp://10.96.0.9:6379", env["REDIS_MASTER_PORT"]);
        Assert.False(env.ContainsKey("REDIS_MASTER_SERVICE_PORT_"), "an unnamed port gets no named variable");
    }

    [Fact]
    public void ServiceEnvironment_LinksOff_OnlyTheKubernetesServiceStays()
    {
        var off = ContainerEnvironment.ServiceEnvironment("redis", enableServiceLinks: false, [Sentinel(), Kubernetes]);
        var on = ContainerEnvironment.ServiceEnvironment("redis", enableServiceLinks: true, [Sentinel(), Sentinel("other"), Kubernetes]);

        Assert.Equal("10.96.0.1", off["KUBERNETES_SERVICE_HOST"]);
        Assert.Equal("443", off["KUBERNETES_SERVICE_PORT"]);
        Assert.DoesNotContain(off.Keys, k => k.StartsWith("SENTINEL_", StringComparison.Ordinal));
        Assert.Equal("tcp://10.96.0.7:26379", on["SENTINEL_PORT"]);
        Assert.Equal(8 + 8, on.Count); // the pod's namespace and kubernetes; nothing from namespace "other"
    }

    [Fact]
    public void Build_DeclaredNameWinsOverServiceLink_UndeclaredGetsTheLink()
    {
        var links = ContainerEnvironment.ServiceEnvironment("redis", true, [Sentinel(), Kubernetes]);
        var declared = new V1Container { Name = "c", Env = [new V1EnvVar { Name = "SENTINEL_PORT", Value = "26379" }] };
        var undeclared = new V1Container { Name = "c" };

        var a = ContainerEnvironment.Build(declared, links, NoSources).ToDictionary();
        var b = ContainerEnvironment.Build(undeclared, links, NoSources).ToDictionary();

        Assert.Equal("26379", a["SENTINEL_PORT"]);
        Assert.Equal("tcp://10.96.0.7:26379", b["SENTINEL_PORT"]);
        Assert.Equal("10.96.0.7", a["SENTINEL_SERVICE_HOST"]);
    }

    [Fact]
    public void Build_EnvFromThenEnv_LaterWinsAndFieldRefsAndExpansionResolve()
    {
        var cm = new V1ConfigMap { Metadata = new V1ObjectMeta { Name = "settings" }, Data = new Dictionary<string, string> { ["A"] = "from-configmap", ["B"] = "b", ["not valid!"] = "x" } };
        var sources = NoSources with { ConfigMap = n => n == "settings" ? cm : null };
        var c = new V1Container
        {
            Name = "c",
            EnvFrom = [new V1EnvFromSource { ConfigMapRef = new V1ConfigMapEnvSource { Name = "settings" } }],
            Env =
            [
                new V1EnvVar { Name = "A", Value = "from-env" },
                new V1EnvVar { Name = "POD", ValueFrom = new V1EnvVarSource { FieldRef = new V1ObjectFieldSelector { FieldPath = "metadata.name" } } },
                new V1EnvVar { Name = "HOST", Value = "$(POD).$(B):$$(B)$(UNKNOWN)" },
            ],
        };

        var env = ContainerEnvironment.Build(c, new Dictionary<string, string>(), sources).ToDictionary();

        Assert.Equal("from-env", env["A"]);
        Assert.Equal("redis-0", env["POD"]);
        Assert.Equal("redis-0.b:$(B)$(UNKNOWN)", env["HOST"]);
        Assert.False(env.ContainsKey("not valid!"));
    }

    [Fact]
    public void Build_MissingConfigMapOrKey_FailsAsCreateContainerConfigError()
    {
        var c = new V1Container { Name = "c", EnvFrom = [new V1EnvFromSource { ConfigMapRef = new V1ConfigMapEnvSource { Name = "absent" } }] };
        var optional = new V1Container { Name = "c", EnvFrom = [new V1EnvFromSource { ConfigMapRef = new V1ConfigMapEnvSource { Name = "absent", Optional = true } }] };

        var e = Assert.Throws<InvalidOperationException>(() => ContainerEnvironment.Build(c, new Dictionary<string, string>(), NoSources));
        Assert.Contains("configmap \"absent\" not found", e.Message, StringComparison.Ordinal);
        Assert.Empty(ContainerEnvironment.Build(optional, new Dictionary<string, string>(), NoSources));
    }
}
