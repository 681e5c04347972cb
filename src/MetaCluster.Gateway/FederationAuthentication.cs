using System.Text;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace MetaCluster.Gateway;

/// <summary>
/// Middleware in front of the gateway's gRPC service: a call without a valid <c>authorization: Bearer TOKEN</c> is
/// answered Unauthenticated before its message is read (an unknown peer gets no buffer of ours filled), and a call
/// that gRPC refused for its size is counted, since that refusal happens before any code of ours sees the message.
/// </summary>
internal sealed class FederationAuthentication(RequestDelegate next, ClientCredentials credentials, FederationMetrics metrics)
{
    private const string ClientKey = "metacluster.federation.client";

    public async Task InvokeAsync(HttpContext context)
    {
        string? token = BearerToken(context.Request.Headers.Authorization.ToString());
        string? clientId = token is null ? null : credentials.Authenticate(token);
        if (clientId is null)
        {
            metrics.Refused(RefusalReason.Unauthenticated);
            WriteStatus(context, StatusCode.Unauthenticated, token is null
                ? "no credentials: send the client's token as 'authorization: Bearer TOKEN'."
                : "unknown client or wrong token: the token's hash is not in the server's clients file.");
            return;
        }
        metrics.Seen(clientId);
        context.Items[ClientKey] = clientId;
        await next(context);
        if (StatusOf(context) == StatusCode.ResourceExhausted) metrics.Refused(RefusalReason.TooLarge);
    }

    /// <summary>The client the middleware authenticated for this call.</summary>
    public static string ClientOf(HttpContext context) =>
        context.Items[ClientKey] as string ?? throw new InvalidOperationException("the federation service was reached without FederationAuthentication in front of it.");

    private static string? BearerToken(string header) =>
        header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && header.Length > 7 ? header[7..].Trim() : null;

    /// <summary>A trailers-only gRPC answer: HTTP 200, the status in the headers, no message.</summary>
    private static void WriteStatus(HttpContext context, StatusCode code, string message)
    {
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/grpc";
        context.Response.Headers["grpc-status"] = ((int)code).ToString();
        context.Response.Headers["grpc-message"] = PercentEncode(message);
    }

    /// <summary>The call's gRPC status: in the trailers, or in the headers of a trailers-only answer.</summary>
    private static StatusCode? StatusOf(HttpContext context)
    {
        string? value = context.Features.Get<IHttpResponseTrailersFeature>()?.Trailers["grpc-status"].ToString();
        if (string.IsNullOrEmpty(value)) value = context.Response.Headers["grpc-status"].ToString();
        return int.TryParse(value, out int code) ? (StatusCode)code : null;
    }

    /// <summary>grpc-message is percent-encoded UTF-8 (the gRPC HTTP/2 protocol): printable ASCII but '%' stays as is.</summary>
    private static string PercentEncode(string message)
    {
        var text = new StringBuilder();
        foreach (byte b in Encoding.UTF8.GetBytes(message))
            text.Append(b is >= 0x20 and <= 0x7E && b != (byte)'%' ? ((char)b).ToString() : $"%{b:X2}");
        return text.ToString();
    }
}
