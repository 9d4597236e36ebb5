using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace RedisSidecars.KubeApiDouble;

/// <summary>
/// HTTPS as a cluster's API server serves it, for clients that use the in-cluster configuration
/// (<c>https://KUBERNETES_SERVICE_HOST:KUBERNETES_SERVICE_PORT</c>, the service account's <c>ca.crt</c>): started with
/// <c>tlsSubjectAltNames</c>, the double makes a CA and a serving certificate signed by it, valid for the listen
/// address and those names/IPs, and serves only HTTPS. <see cref="WriteCaCertificate"/> writes the CA for the pods.
/// </summary>
public sealed partial class KubeApiServer
{
    /// <summary>The CA that signed the serving certificate; null when the double serves plain HTTP.</summary>
    public X509Certificate2? CaCertificate { get; private set; }

    /// <summary>Writes the CA certificate as PEM (the service account volume's <c>ca.crt</c>); returns the path.</summary>
    public string WriteCaCertificate(string path)
    {
        var ca = CaCertificate ?? throw new InvalidOperationException("the double serves plain HTTP: start it with tlsSubjectAltNames for a CA");
        File.WriteAllText(path, ca.ExportCertificatePem() + "\n");
        return path;
    }

    /// <summary>Turns <paramref name="listen"/> into HTTPS when <paramref name="subjectAltNames"/> is given (null = plain HTTP).</summary>
    private System.Security.Cryptography.X509Certificates.X509Certificate2? _servingCertificate;

    private void UseTls(ListenOptions listen, IPAddress address, IReadOnlyCollection<string>? subjectAltNames)
    {
        if (subjectAltNames is null)
        {
            return;
        }

        // Issued once: reopening the listener after a refusal keeps the certificate clients already trust.
        if (_servingCertificate is null)
        {
            var (ca, serving) = IssueCertificates(address, subjectAltNames, _time.GetUtcNow());
            CaCertificate = ca;
            _servingCertificate = serving;
        }

        listen.UseHttps(_servingCertificate);
    }

    /// <summary>
    /// A self-signed CA (RSA 2048, as kubeadm makes) and a serving certificate it signed for <paramref name="address"/>
    /// and <paramref name="names"/> (IP literals become IP SANs, the rest DNS SANs), valid for a day.
    /// </summary>
    internal static (X509Certificate2 Ca, X509Certificate2 Serving) IssueCertificates(IPAddress address, IEnumerable<string> names, DateTimeOffset now)
    {
        var notBefore = now.AddMinutes(-5);
        var notAfter = now.AddDays(1);

        using var caKey = RSA.Create(2048);
        var caRequest = new CertificateRequest("CN=kube-api-double-ca", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        var ca = caRequest.CreateSelfSigned(notBefore, notAfter);

        var servingKey = RSA.Create(2048); // owned by the serving certificate from here on
        var request = new CertificateRequest("CN=kube-apiserver", servingKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(address);
        foreach (var name in names.Distinct(StringComparer.Ordinal))
        {
            if (IPAddress.TryParse(name, out var ip))
            {
                san.AddIpAddress(ip);
            }
            else
            {
                san.AddDnsName(name);
            }
        }

        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1", "Server Authentication")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f; // a positive serial number
        using var signed = request.Create(ca, notBefore, notAfter, serial);
        return (ca, signed.CopyWithPrivateKey(servingKey));
    }
}
