using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace MetaCluster.Gateway.Tests;

/// <summary>Self-signed server certificates made in the test: one for 127.0.0.1 and localhost, which is also the CA the client is given.</summary>
public static class TestCertificates
{
    public static X509Certificate2 SelfSigned(string name = "metacluster-test-gateway")
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: false, 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyCertSign, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        var now = DateTimeOffset.UtcNow;
        return request.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1));
    }

    /// <summary>The certificate as a PEM file (what --ca-cert and --tls-cert take), and its key beside it when asked.</summary>
    public static string WritePem(X509Certificate2 certificate, string directory, string name, bool withKey = false)
    {
        string path = Path.Combine(directory, name + ".pem");
        File.WriteAllText(path, certificate.ExportCertificatePem());
        if (withKey) File.WriteAllText(Path.Combine(directory, name + ".key"), certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
        return path;
    }
}
