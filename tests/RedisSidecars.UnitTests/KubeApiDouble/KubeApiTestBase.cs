using System.Net;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using k8s;
using k8s.Autorest;
using k8s.Models;
using RedisSidecars.KubeApiDouble;
using RedisSidecars.Sidecar.Kubernetes;
using Xunit;

// The sidecar (whose watch reader these tests use) is a Linux program; so are its tests.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]

namespace RedisSidecars.UnitTests.KubeApiDouble;

/// <summary>Starts a fresh double per test and a real KubernetesClient configured from the kubeconfig it writes.</summary>
public abstract class KubeApiTestBase : IAsyncLifetime
{
    protected const string Ns = "redis-ns";

    private readonly string _kubeconfig = Path.Combine(Path.GetTempPath(), $"kad-{Guid.NewGuid():N}.yaml");

    /// <summary>The kubeconfig the double wrote for the default service account.</summary>
    protected string KubeconfigPath => _kubeconfig;

    protected KubeApiServer Api { get; private set; } = null!;

    protected Kubernetes Client { get; private set; } = null!;

    /// <summary>The sidecar's own connection (<see cref="KubeApi"/>) to the double, for watch streams read the sidecar's way.</summary>
    protected KubeApi Watcher { get; private set; } = null!;

    protected virtual TimeProvider? Time => null;

    protected virtual KubeApiOptions? Options => null;

    /// <summary>Long enough for anything a test waits for; a test that needs it fails rather than hangs.</summary>
    protected static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    public virtual async Task InitializeAsync()
    {
        Api = await KubeApiServer.StartAsync(IPAddress.Loopback, 0, Time, options: Options);
        Api.WriteKubeconfig(_kubeconfig, Ns);
        Client = new Kubernetes(KubernetesClientConfiguration.BuildConfigFromConfigFile(_kubeconfig));
        Watcher = KubeApi.Create(_kubeconfig, TimeSpan.FromSeconds(10), "kube-api-double-tests");
    }

    public virtual async Task DisposeAsync()
    {
        Client.Dispose();
        Watcher.Dispose();
        await Api.DisposeAsync();
        File.Delete(_kubeconfig);
    }

    protected static V1Patch Merge(string json) => new(json, V1Patch.PatchType.MergePatch);

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

    /// <summary>Opens a pod watch in this namespace through the sidecar's watch reader (the client's own HTTP pipeline).</summary>
    protected WatchProbe<PodObject> WatchPods(string query = "") =>
        new(ct => KubeWatch.StreamAsync(Watcher, $"api/v1/namespaces/{Ns}/pods?watch=true&{query}", ApiJson.Default.PodObject, TimeSpan.FromMinutes(5), TimeProvider.System, ct));

    protected WatchProbe<StatefulSetObject> WatchStatefulSets(string query = "") =>
        new(ct => KubeWatch.StreamAsync(Watcher, $"apis/apps/v1/namespaces/{Ns}/statefulsets?watch=true&{query}", ApiJson.Default.StatefulSetObject, TimeSpan.FromMinutes(5), TimeProvider.System, ct));

    protected static async Task<T> EventuallyAsync<T>(Func<T?> probe, string what)
    {
        using var deadline = new CancellationTokenSource(Patience);
        while (true)
        {
            if (probe() is { } value && (value is not bool b || b))
            {
                return value;
            }

            Assert.False(deadline.IsCancellationRequested, $"{what}: not within {Patience.TotalSeconds} s");
            await Task.Delay(10);
        }
    }

    /// <summary>Reads a watch stream in the background so a test can take its events one by one.</summary>
    protected sealed class WatchProbe<T> : IAsyncDisposable where T : class
    {
        private readonly Channel<WatchEvent<T>> _events = Channel.CreateUnbounded<WatchEvent<T>>();
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _pump;

        public WatchProbe(Func<CancellationToken, IAsyncEnumerable<WatchEvent<T>>> open)
        {
            _pump = Task.Run(async () =>
            {
                try
                {
                    await foreach (var e in open(_stop.Token))
                    {
                        _events.Writer.TryWrite(e);
                    }

                    _events.Writer.TryComplete();
                }
                catch (Exception e)
                {
                    _events.Writer.TryComplete(e);
                }
            });
        }

        /// <summary>The next event; fails the test when none comes within <see cref="Patience"/> or the stream ends.</summary>
        public async Task<WatchEvent<T>> NextAsync()
        {
            using var timeout = new CancellationTokenSource(Patience);
            return await _events.Reader.ReadAsync(timeout.Token);
        }

        /// <summary>The next event that is not a bookmark.</summary>
        public async Task<WatchEvent<T>> NextChangeAsync()
        {
            while (true)
            {
                var e = await NextAsync();
                if (e.Kind != WatchEventKind.Bookmark)
                {
                    return e;
                }
            }
        }

        /// <summary>Events already received, without waiting.</summary>
        public IReadOnlyList<WatchEvent<T>> Received()
        {
            List<WatchEvent<T>> got = [];
            while (_events.Reader.TryRead(out var e))
            {
                got.Add(e);
            }

            return got;
        }

        /// <summary>Events <see cref="EndAsync"/> read on its way to the end.</summary>
        public List<WatchEvent<T>> Drained { get; } = [];

        /// <summary>Waits for the stream to end (keeping what it reads in <see cref="Drained"/>): null when the server ended it cleanly, else the failure.</summary>
        public async Task<Exception?> EndAsync()
        {
            using var timeout = new CancellationTokenSource(Patience);
            try
            {
                while (await _events.Reader.WaitToReadAsync(timeout.Token))
                {
                    if (_events.Reader.TryRead(out var e))
                    {
                        Drained.Add(e);
                    }
                }

                return null;
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested)
            {
                throw new Xunit.Sdk.XunitException($"the watch did not end within {Patience.TotalSeconds} s");
            }
            catch (Exception e)
            {
                return e;
            }
        }

        /// <summary>True while the stream is open (it has neither ended nor failed).</summary>
        public bool IsOpen => !_pump.IsCompleted;

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            try
            {
                await _pump;
            }
            catch (OperationCanceledException)
            {
                // stopped
            }

            _stop.Dispose();
        }
    }
}
