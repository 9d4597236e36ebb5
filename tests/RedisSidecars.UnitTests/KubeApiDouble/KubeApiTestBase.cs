using System.Net;
using System.Text.Json.Nodes;
using k8s;
using k8s.Autorest;
using RedisSidecars.KubeApiDouble;
using Xunit;

namespace RedisSidecars.UnitTests.KubeApiDouble;

/// <summary>Starts a fresh double per test and a real KubernetesClient configured from the kubeconfig it writes.</summary>
public abstract class KubeApiTestBase : IAsyncLifetime
{
    protected const string Ns = "redis-ns";

    private readonly string _kubeconfig = Path.Combine(Path.GetTempPath(), $"kad-{Guid.NewGuid():N}.yaml");

    protected KubeApiServer Api { get; private set; } = null!;

    protected Kubernetes Client { get; private set; } = null!;

    protected virtual TimeProvider? Time => null;

    public async Task InitializeAsync()
    {
        Api = await KubeApiServer.StartAsync(IPAddress.Loopback, 0, Time);
        Api.WriteKubeconfig(_kubeconfig, Ns);
        Client = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(_kubeconfig));
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        await Api.DisposeAsync();
        File.Delete(_kubeconfig);
    }

    protected static Dictionary<string, string> Labels(params string[] pairs) =>
        pairs.Select(p => p.Split('=')).ToDictionary(p => p[0], p => p[1]);

    /// <summary>Runs a client call that must fail; returns the HTTP status and the parsed Status body.</summary>
    protected static async Task<(HttpStatusCode Code, JsonObject Status)> FailureOf(Func<Task> call)
    {
        var e = await Assert.ThrowsAsync<HttpOperationException>(call);
        return (e.Response.StatusCode, JsonNode.Parse(e.Response.Content)!.AsObject());
    }

    protected HttpClient RawClient(bool withToken = true)
    {
        var http = new HttpClient { BaseAddress = Api.BaseAddress };
        if (withToken)
        {
            http.DefaultRequestHeaders.Authorization = new("Bearer", Api.Token);
        }

        return http;
    }
}
