using MetaCluster.Core.Federated;

namespace MetaCluster.Gateway;

/// <summary>
/// The federated trainer's provider when real clients compute the updates: each round's work (θ, who is sampled, the
/// deadline) is published through the gateway's <see cref="FederationRounds"/>; the round's outcome is the valid updates
/// that arrived before the deadline (or as soon as every sampled client answered), the sampled clients that sent
/// nothing as <see cref="DropReason.Late"/> and those whose update was refused as <see cref="DropReason.Refused"/>.
/// Disposing it ends the run: polling clients are told to stop.
/// </summary>
public sealed class GatewayClientUpdates : IClientUpdateProvider, IDisposable
{
    private readonly FederationRounds _rounds;

    /// <param name="rounds">The server's gateway state (a singleton: <c>services.GetRequiredService&lt;FederationRounds&gt;()</c>).</param>
    /// <param name="configJson">The run's config as clients need it to build their trainer (served with its version).</param>
    public GatewayClientUpdates(FederationRounds rounds, string configJson)
    {
        _rounds = rounds;
        rounds.BeginRun(configJson);
    }

    public async ValueTask<FederatedRoundOutcome> CollectAsync(FederatedRoundWork work, CancellationToken cancellationToken = default)
    {
        var slot = _rounds.Open(work);
        FederatedRoundOutcome outcome;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            await Task.WhenAny(slot.AllAnswered.Task, Task.Delay(work.Deadline, _rounds.Time, timeout.Token)).ConfigureAwait(false);
        }
        finally
        {
            timeout.Cancel();
            // Closed whatever happened, so no update can slip into an attempt nobody collects.
            outcome = _rounds.Close(slot);
        }
        cancellationToken.ThrowIfCancellationRequested();
        return outcome;
    }

    public void Dispose() => _rounds.FinishRun();
}
