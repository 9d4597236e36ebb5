using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using k8s;
using k8s.Authentication;

namespace RedisSidecars.Sidecar.Kubernetes;

/// <summary>
/// The sidecar's connection to the API server, from KubernetesClient's own configuration: the kubeconfig or the
/// in-cluster service account (host, cluster CA, client certificate, token — re-read from its file as it rotates —,
/// basic auth). Everything the sidecar sends goes through <see cref="RequestAsync"/> and <see cref="Http"/>.
/// It does not build KubernetesClient's <c>Kubernetes</c> class: that class alone roots every API model and the
/// serializer context for all of them (20 MB in an otherwise empty Native-AOT program, measured), for calls the
/// sidecar never makes; it speaks the few objects it needs itself (<see cref="ApiJson"/>, <see cref="KubeHttp"/>).
/// </summary>
public sealed class KubeApi : IDisposable
{
    readonly ServiceClientCredentials? credentials;

    KubeApi(Uri baseUri, HttpClient http, ServiceClientCredentials? credentials)
    {
        BaseUri = baseUri;
        Http = http;
        this.credentials = credentials;
    }

    public Uri BaseUri { get; }

    /// <summary>TLS against the cluster CA; its Timeout bounds a request until its headers (a watch's stream is bounded by its reader).</summary>
    public HttpClient Http { get; }

    public static KubeApi Create(KubernetesClientConfiguration config, TimeSpan requestTimeout, string userAgent)
    {
        var baseUri = new Uri(config.Host.EndsWith('/') ? config.Host : config.Host + "/");
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = requestTimeout,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(2),
            EnableMultipleHttp2Connections = true,
        };
        if (baseUri.Scheme == Uri.UriSchemeHttps)
        {
            if (config.SkipTlsVerify) handler.SslOptions.RemoteCertificateValidationCallback = (_, _, _, _) => true;
            else if (config.SslCaCerts is { Count: > 0 } roots) handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) => TrustedBy(roots, certificate, errors);
            if (!string.IsNullOrEmpty(config.TlsServerName)) handler.SslOptions.TargetHost = config.TlsServerName;
            if (!string.IsNullOrEmpty(config.ClientCertificateData) || !string.IsNullOrEmpty(config.ClientCertificateFilePath))
                handler.SslOptions.ClientCertificates = new X509CertificateCollection { ClientCertificate(config) };
        }
        ServiceClientCredentials? credentials =
            config.TokenProvider is { } provider ? new TokenCredentials(provider)
            : !string.IsNullOrEmpty(config.AccessToken) ? new TokenCredentials(config.AccessToken)
            : !string.IsNullOrEmpty(config.Username) ? new BasicAuthenticationCredentials { UserName = config.Username, Password = config.Password }
            : null;
        var http = new HttpClient(handler) { Timeout = requestTimeout };
        http.DefaultRequestHeaders.UserAgent.ParseAdd(userAgent);
        return new KubeApi(baseUri, http, credentials);
    }

    /// <summary>From KUBECONFIG when set, else the in-cluster service account, else the default kubeconfig.</summary>
    public static KubeApi Create(string? kubeconfig, TimeSpan requestTimeout, string userAgent) =>
        Create(kubeconfig is not null
            ? KubernetesClientConfiguration.BuildConfigFromConfigFile(kubeconfig)
            : KubernetesClientConfiguration.IsInCluster()
                ? KubernetesClientConfiguration.InClusterConfig()
                : KubernetesClientConfiguration.BuildDefaultConfig(), requestTimeout, userAgent);

    /// <summary>A request relative to the API's base URI, with the credentials (HTTP/2 when the server offers it).</summary>
    public async Task<HttpRequestMessage> RequestAsync(HttpMethod method, string relativeUri, CancellationToken ct)
    {
        var request = new HttpRequestMessage(method, new Uri(BaseUri, relativeUri))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        };
        if (credentials is not null) await credentials.ProcessHttpRequestAsync(request, ct).ConfigureAwait(false);
        return request;
    }

    /// <summary>A kubeconfig's client certificate and key (inline base64 PEM, or files).</summary>
    static X509Certificate2 ClientCertificate(KubernetesClientConfiguration c)
    {
        static string Pem(string? inline, string? file) =>
            !string.IsNullOrEmpty(inline) ? System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(inline)) : File.ReadAllText(file!);
        return X509Certificate2.CreateFromPem(Pem(c.ClientCertificateData, c.ClientCertificateFilePath), Pem(c.ClientCertificateKeyData, c.ClientKeyFilePath));
    }

    /// <summary>The server's chain must end in one of the cluster's CA certificates; a wrong name is never accepted.</summary>
    static bool TrustedBy(X509Certificate2Collection roots, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None) return true;
        if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != 0) return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var leaf = new X509Certificate2(certificate);
        return chain.Build(leaf);
    }

    public void Dispose() => Http.Dispose();
}
