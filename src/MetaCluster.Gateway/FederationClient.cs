using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Grpc.Net.Client;
using MetaCluster.Core.Federated;
using MetaCluster.Core.Models;
using MetaCluster.Gateway.Protocol;

namespace MetaCluster.Gateway;

/// <summary>A client's settings: where the gateway is, who the client is, and how it computes its updates.</summary>
public sealed class FederationClientOptions
{
    /// <summary>https://HOST:PORT of the coordinator's federation port.</summary>
    public required Uri Server { get; init; }
    public required string ClientId { get; init; }
    public required string Token { get; init; }
    /// <summary>A PEM file with the CA the server's certificate must chain to; null: the machine's trusted roots.</summary>
    public string? CaCertificatePath { get; init; }
    /// <summary>Builds the client's trainer from the run's config JSON; called once per config version.</summary>
    public required Func<string, IClientTrainer> TrainerFactory { get; init; }
    /// <summary>How long the server may stay unreachable (Unavailable) before the client gives up.</summary>
    public TimeSpan GiveUpAfter { get; init; } = TimeSpan.FromMinutes(5);
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(30);
    /// <summary>Progress lines ("round 3: update sent").</summary>
    public Action<string> Log { get; init; } = _ => { };
}

/// <summary>What a client did before the run finished.</summary>
public sealed record FederationClientSummary(int UpdatesSent, int UpdatesRefused, int TrainersBuilt);

/// <summary>A reason the client stops: refused credentials, a TLS problem, an unreachable server. The message says what to do.</summary>
public sealed class FederationClientException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// A federated client's loop: ask the gateway for the round, and when sampled compute the update on local data and
/// send it; wait when no round is open, back off while the server is unavailable, stop when the run is finished. Only
/// the update, its weight and the client's figures leave the machine.
/// </summary>
public sealed class FederationClient : IDisposable
{
    private readonly FederationClientOptions _options;
    private readonly ServerCertificateCheck _certificates;
    private readonly GrpcChannel _channel;
    private readonly Protocol.Federation.FederationClient _client;
    private readonly Metadata _headers;

    private FederationClient(FederationClientOptions options, X509Certificate2? root)
    {
        _options = options;
        _certificates = new ServerCertificateCheck(root);
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(10),
            SslOptions = { RemoteCertificateValidationCallback = _certificates.Validate },
        };
        _channel = GrpcChannel.ForAddress(options.Server, new GrpcChannelOptions
        {
            HttpHandler = handler,
            DisposeHttpClient = true,
            // θ comes from the server the client chose to trust: as large as the run's model is.
            MaxReceiveMessageSize = null,
        });
        _client = new Protocol.Federation.FederationClient(_channel);
        _headers = new Metadata { { "authorization", $"Bearer {options.Token}" } };
    }

    /// <summary>Checks the settings (an https address, a readable CA) and makes the channel; nothing is sent yet.</summary>
    public static FederationClient Create(FederationClientOptions options)
    {
        if (options.Server.Scheme != Uri.UriSchemeHttps)
            throw new ArgumentException($"--server must be https://HOST:PORT (the gateway speaks TLS only); got '{options.Server}'.");
        if (!ClientCredentials.IsValidClientId(options.ClientId))
            throw new ArgumentException($"--client-id '{options.ClientId}' must be 1 to 64 letters, digits, '.', '_' or '-'.");
        if (string.IsNullOrWhiteSpace(options.Token)) throw new ArgumentException("the token is empty; pass the .token file metacluster federated credentials wrote.");
        return new FederationClient(options, options.CaCertificatePath is { } path ? LoadCa(path) : null);
    }

    public static X509Certificate2 LoadCa(string path)
    {
        try
        {
            return X509Certificate2.CreateFromPem(File.ReadAllText(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ArgumentException($"cannot read --ca-cert {path}: {e.Message}", e);
        }
        catch (System.Security.Cryptography.CryptographicException e)
        {
            throw new ArgumentException($"--ca-cert {path} is not a PEM certificate ('-----BEGIN CERTIFICATE-----'): {e.Message}", e);
        }
    }

    public async Task<FederationClientSummary> RunAsync(CancellationToken cancellationToken = default)
    {
        IClientTrainer? trainer = null;
        string? trainerVersion = null;
        (long Round, int Attempt)? answered = null;
        int sent = 0, refused = 0, built = 0;
        while (true)
        {
            var reply = await CallAsync(() => _client.GetRoundAsync(new RoundRequest { ClientId = _options.ClientId }, _headers,
                DateTime.UtcNow.AddSeconds(30), cancellationToken).ResponseAsync, cancellationToken);
            switch (reply.State)
            {
                case RunState.Finished:
                    _options.Log($"the run is finished: {sent} update(s) sent, {refused} refused.");
                    return new FederationClientSummary(sent, refused, built);
                case RunState.RoundOpen when reply.Sampled && answered != (reply.Round, reply.Attempt):
                    if (trainerVersion != reply.ConfigVersion)
                    {
                        trainer = _options.TrainerFactory(reply.ConfigJson);
                        (trainerVersion, built) = (reply.ConfigVersion, built + 1);
                    }
                    answered = (reply.Round, reply.Attempt);
                    if (await ComputeAndSubmitAsync(trainer!, reply, cancellationToken)) sent++;
                    else refused++;
                    continue;
                default:
                    await Task.Delay(TimeSpan.FromMilliseconds(Math.Max(reply.PollAfterMs, 10)), cancellationToken);
                    continue;
            }
        }
    }

    /// <summary>True when the server took the update; a refused update is logged and the client goes on with the next round.</summary>
    private async Task<bool> ComputeAndSubmitAsync(IClientTrainer trainer, RoundReply reply, CancellationToken cancellationToken)
    {
        var layout = new ParameterLayout(reply.ThetaLayout.Select(t => (t.Name, t.Shape.ToArray())));
        var theta = ParameterSet.FromBytes(layout, reply.Theta.Span);
        // Off the polling thread: a client's local training is seconds to minutes of CPU.
        var update = await Task.Run(() => trainer.Compute(theta, reply.Round), cancellationToken);
        if (update.Values.Length != layout.TotalCount)
            throw new InvalidOperationException($"the trainer's update has {update.Values.Length} values; θ has {layout.TotalCount} ({layout.Describe()}).");
        var m = update.Metrics;
        var metrics = new UpdateMetrics { Episodes = m.Episodes, PostLoss = m.PostLoss };
        if (m.PreLoss is { } preLoss) metrics.PreLoss = preLoss;
        if (m.PreAccuracy is { } preAccuracy) metrics.PreAccuracy = preAccuracy;
        if (m.PostAccuracy is { } postAccuracy) metrics.PostAccuracy = postAccuracy;
        var request = new UpdateRequest
        {
            ClientId = _options.ClientId, Round = reply.Round, Attempt = reply.Attempt,
            Update = WireFloats.ToBytes(update.Values), Weight = update.Weight, Metrics = metrics,
        };
        try
        {
            await CallAsync(() => _client.SubmitUpdateAsync(request, _headers, DateTime.UtcNow.AddMinutes(2), cancellationToken).ResponseAsync, cancellationToken);
            _options.Log($"round {reply.Round} attempt {reply.Attempt}: update sent (weight {update.Weight}).");
            return true;
        }
        catch (RpcException e) when (e.StatusCode is StatusCode.FailedPrecondition or StatusCode.AlreadyExists or StatusCode.InvalidArgument or StatusCode.ResourceExhausted)
        {
            _options.Log($"round {reply.Round} attempt {reply.Attempt}: the server refused the update ({e.StatusCode}): {e.Status.Detail}");
            return false;
        }
    }

    /// <summary>One call, retried with backoff while the server is unavailable; refusals of the client itself end the loop with a clear message.</summary>
    private async Task<T> CallAsync<T>(Func<Task<T>> call, CancellationToken cancellationToken)
    {
        DateTime? unavailableSince = null;
        var backoff = TimeSpan.FromMilliseconds(200);
        while (true)
        {
            try
            {
                return await call();
            }
            catch (RpcException e) when (TlsProblem(e) is { } tls)
            {
                // Unavailable or Internal, as the handshake failed: either way no retry will trust the certificate.
                throw new FederationClientException($"TLS with {_options.Server} failed: {tls}", e);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unauthenticated)
            {
                throw new FederationClientException($"the server at {_options.Server} refused the credentials of client '{_options.ClientId}': {e.Status.Detail} Check --client-id and --token-file.", e);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.PermissionDenied)
            {
                throw new FederationClientException($"the server at {_options.Server} refused client '{_options.ClientId}': {e.Status.Detail}", e);
            }
            catch (RpcException e) when (e.StatusCode is StatusCode.Unavailable or StatusCode.DeadlineExceeded && !cancellationToken.IsCancellationRequested)
            {
                unavailableSince ??= DateTime.UtcNow;
                if (DateTime.UtcNow - unavailableSince > _options.GiveUpAfter)
                    throw new FederationClientException($"cannot reach the federation server at {_options.Server}: {Cause(e)} (gave up after {_options.GiveUpAfter.TotalSeconds:0.#} s). Check the address, the port and that the coordinator runs with --federation-port.", e);
                _options.Log($"the server at {_options.Server} is unavailable ({Cause(e)}); retrying in {backoff.TotalSeconds:0.#} s.");
                await Task.Delay(backoff, cancellationToken);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, _options.MaxBackoff.Ticks));
            }
        }
    }

    /// <summary>What was wrong with the TLS handshake, when that is why the call failed: the certificate check's finding first.</summary>
    private string? TlsProblem(RpcException e)
    {
        for (Exception? inner = e.Status.DebugException; inner is not null; inner = inner.InnerException)
            if (inner is AuthenticationException authentication)
                return _certificates.LastProblem ?? $"{authentication.Message} (is the server's port a TLS port?)";
        return null;
    }

    private static string Cause(RpcException e)
    {
        for (Exception? inner = e.Status.DebugException; inner is not null; inner = inner.InnerException)
            if (inner is SocketException socket) return socket.SocketErrorCode switch
            {
                SocketError.ConnectionRefused => "connection refused",
                SocketError.HostNotFound or SocketError.NoData => "host not found",
                SocketError.TimedOut => "connection timed out",
                _ => socket.Message,
            };
        return e.Status.Detail;
    }

    public void Dispose() => _channel.Dispose();
}
