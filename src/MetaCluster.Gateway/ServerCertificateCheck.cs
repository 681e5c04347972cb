using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace MetaCluster.Gateway;

/// <summary>
/// Validates the gateway's TLS certificate: against the machine's trusted roots, or — with --ca-cert — against that CA
/// alone (a private deployment's own CA). Validation is never switched off; the host name is always checked. The last
/// problem is kept so the client can say what was wrong with the certificate, not only that the handshake failed.
/// </summary>
internal sealed class ServerCertificateCheck(X509Certificate2? customRoot)
{
    public string? LastProblem { get; private set; }

    public bool Validate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (certificate is null)
        {
            LastProblem = "the server sent no TLS certificate.";
            return false;
        }
        using var server = new X509Certificate2(certificate);
        string who = $"the server's certificate ({server.Subject}, issued by {server.Issuer})";
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            LastProblem = $"{who} is not for this host name: connect with a name or IP address the certificate lists (its subject alternative names).";
            return false;
        }
        if (customRoot is null)
        {
            if (errors == SslPolicyErrors.None) return true;
            LastProblem = $"{who} is not trusted by this machine: {Describe(chain)}. A private deployment's CA is passed with --ca-cert.";
            return false;
        }
        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.Add(customRoot);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (chain is not null) custom.ChainPolicy.ExtraStore.AddRange(chain.ChainPolicy.ExtraStore);
        if (custom.Build(server)) return true;
        LastProblem = $"{who} does not chain to the CA in --ca-cert ({customRoot.Subject}): {Describe(custom)}.";
        return false;
    }

    private static string Describe(X509Chain? chain)
    {
        var statuses = chain?.ChainStatus.Where(s => s.Status != X509ChainStatusFlags.NoError)
            .Select(s => $"{s.Status} ({s.StatusInformation.Trim()})").Distinct().ToArray();
        return statuses is { Length: > 0 } ? string.Join("; ", statuses) : "its chain does not build";
    }
}
