using System.Security.Cryptography;
using System.Text;
using Grpc.Core;
using MetaCluster.Core.Federated;
using MetaCluster.Gateway.Protocol;

namespace MetaCluster.Gateway;

/// <summary>
/// The federated run this gateway serves, one per server (a singleton): its config, the round attempt that is open (or
/// was last), and the rules an update must pass to join it. A <see cref="GatewayClientUpdates"/> publishes into it; the
/// gRPC service reads from it and submits into it.
/// </summary>
public sealed class FederationRounds(FederationGatewayOptions options, FederationMetrics metrics, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private readonly Lock _gate = new();
    private RunConfig? _run;
    private RoundSlot? _slot;

    private sealed record RunConfig(string Json, string Version)
    {
        public bool Finished { get; set; }
    }

    public FederationGatewayOptions Options => options;

    /// <summary>The clock of round deadlines, shared with the provider that waits for them.</summary>
    internal TimeProvider Time => _time;

    /// <summary>Starts serving a run with this config (what clients build their trainer from). One run at a time.</summary>
    internal void BeginRun(string configJson)
    {
        lock (_gate)
        {
            if (_run is { Finished: false })
                throw new InvalidOperationException("the federation gateway already serves a run; finish it (dispose its GatewayClientUpdates) before starting another.");
            string version = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(configJson)))[..16];
            (_run, _slot) = (new RunConfig(configJson, version), null);
        }
    }

    /// <summary>Clients are told the run is over and stop.</summary>
    internal void FinishRun()
    {
        lock (_gate)
        {
            if (_run is not null) _run.Finished = true;
            if (_slot is not null) _slot.Closed = true;
        }
    }

    internal RoundSlot Open(FederatedRoundWork work)
    {
        if (work.Theta.Layout.TotalCount > options.MaxParameters)
            throw new InvalidOperationException($"θ has {work.Theta.Layout.TotalCount} parameters; this gateway takes updates of at most {options.MaxParameters} (raise --federation-max-params).");
        lock (_gate)
        {
            if (_run is not { Finished: false }) throw new InvalidOperationException("no federated run is being served: create a GatewayClientUpdates first.");
            if (_slot is { Closed: false }) throw new InvalidOperationException($"round {_slot.Round} attempt {_slot.Attempt} is still open.");
            if (_slot is not null && _slot.CompareTo(work.Round, work.Attempt) >= 0)
                throw new InvalidOperationException($"round {work.Round} attempt {work.Attempt} does not come after round {_slot.Round} attempt {_slot.Attempt}.");
            // No deadline (the config's 0, an infinite span) keeps the attempt open until every sampled client answered.
            var deadline = work.Deadline == Timeout.InfiniteTimeSpan ? DateTimeOffset.MaxValue : _time.GetUtcNow() + work.Deadline;
            _slot = new RoundSlot(work, deadline);
            if (_slot.Participants.Count == 0) _slot.AllAnswered.TrySetResult();
            return _slot;
        }
    }

    /// <summary>Stops the attempt taking updates and says what it got: accepted updates, refused clients, and the silent ones as late.</summary>
    internal FederatedRoundOutcome Close(RoundSlot slot)
    {
        lock (_gate)
        {
            slot.Closed = true;
            var dropped = new List<DroppedClient>();
            foreach (string id in slot.Participants.Order(StringComparer.Ordinal))
            {
                if (slot.Updates.ContainsKey(id)) continue;
                dropped.Add(slot.Refused.TryGetValue(id, out string? why)
                    ? new DroppedClient(id, DropReason.Refused, why)
                    : new DroppedClient(id, DropReason.Late, $"no update for round {slot.Round} attempt {slot.Attempt} before its deadline"));
            }
            return new FederatedRoundOutcome(slot.Updates.Values.ToArray(), dropped);
        }
    }

    /// <summary>What <paramref name="clientId"/> should do now.</summary>
    internal RoundReply Describe(string clientId)
    {
        int pollMs = (int)Math.Ceiling(options.PollInterval.TotalMilliseconds);
        lock (_gate)
        {
            if (_run is null) return new RoundReply { State = RunState.Waiting, PollAfterMs = pollMs };
            var reply = new RoundReply { ConfigJson = _run.Json, ConfigVersion = _run.Version, PollAfterMs = pollMs };
            if (_run.Finished) reply.State = RunState.Finished;
            else if (_slot is not { Closed: false } slot || _time.GetUtcNow() > slot.Deadline) reply.State = RunState.Waiting;
            else
            {
                reply.State = RunState.RoundOpen;
                reply.Round = slot.Round;
                reply.Attempt = slot.Attempt;
                reply.DeadlineUnixMs = slot.Deadline == DateTimeOffset.MaxValue ? 0 : slot.Deadline.ToUnixTimeMilliseconds(); // 0: none
                // Sampled and not answered yet: θ goes only to the clients that are to compute on it.
                reply.Sampled = slot.Participants.Contains(clientId) && !slot.Updates.ContainsKey(clientId);
                if (reply.Sampled)
                {
                    reply.Theta = slot.Theta;
                    reply.ThetaLayout.AddRange(slot.ThetaLayout);
                }
            }
            return reply;
        }
    }

    /// <summary>Takes <paramref name="clientId"/>'s update into the open attempt, or throws the <see cref="FederationRefusal"/> that says why not.</summary>
    internal void Submit(string clientId, UpdateRequest request)
    {
        RoundSlot slot;
        lock (_gate) slot = Admit(clientId, request);
        ClientUpdate update;
        try
        {
            // Outside the lock: a large θ takes a moment to check, and other clients' calls need not wait for it.
            update = UpdateValidation.Validate(clientId, request, slot.Layout.TotalCount);
        }
        catch (FederationRefusal refusal)
        {
            lock (_gate)
            {
                if (!slot.Closed && !slot.Updates.ContainsKey(clientId))
                {
                    slot.Refused[clientId] = $"{refusal.Reason}: {refusal.Message}";
                    slot.CheckAllAnswered();
                }
            }
            throw;
        }
        lock (_gate)
        {
            // Checked again: the deadline may have passed, or a parallel call from the same client won, while we validated.
            Admit(clientId, request);
            slot.Updates[clientId] = update;
            slot.Refused.Remove(clientId);
            slot.CheckAllAnswered();
        }
        metrics.Accepted();
    }

    /// <summary>The rules on which round, attempt and client an update may be for; called under the lock.</summary>
    private RoundSlot Admit(string clientId, UpdateRequest request)
    {
        string what = $"round {request.Round} attempt {request.Attempt}";
        if (_run is not { Finished: false } || _slot is not { } slot)
            throw new FederationRefusal(StatusCode.FailedPrecondition, RefusalReason.NotSampled, $"no round is open; an update for {what} is not expected (ask GetRound first).");
        int order = slot.CompareTo(request.Round, request.Attempt);
        if (order > 0)
            throw new FederationRefusal(StatusCode.FailedPrecondition, RefusalReason.Replay,
                $"an update for {what} is a replay: the round open now is round {slot.Round} attempt {slot.Attempt}.");
        if (order < 0 || !slot.Participants.Contains(clientId))
            throw new FederationRefusal(StatusCode.FailedPrecondition, RefusalReason.NotSampled, $"client '{clientId}' is not sampled in {what}.");
        if (slot.Updates.ContainsKey(clientId))
            throw new FederationRefusal(StatusCode.AlreadyExists, RefusalReason.Duplicate, $"client '{clientId}' already sent its update for {what}; one update per round.");
        if (slot.Closed || _time.GetUtcNow() > slot.Deadline)
            throw new FederationRefusal(StatusCode.FailedPrecondition, RefusalReason.Late,
                $"{what} closed at its deadline ({slot.Deadline:O}); the update came too late to count.");
        return slot;
    }
}
