using Grpc.Core;
using MetaCluster.Gateway.Protocol;

namespace MetaCluster.Gateway;

/// <summary>
/// The gRPC service clients call. Credentials were checked before the call got here (<see cref="FederationAuthentication"/>):
/// what is left is that a client speaks only for itself, and the round rules of <see cref="FederationRounds"/>.
/// </summary>
internal sealed class FederationService(FederationRounds rounds, FederationMetrics metrics) : Federation.FederationBase
{
    public override Task<RoundReply> GetRound(RoundRequest request, ServerCallContext context)
    {
        string clientId = Caller(request.ClientId, context);
        metrics.Received(request.CalculateSize());
        var reply = rounds.Describe(clientId);
        metrics.Sent(reply.CalculateSize());
        return Task.FromResult(reply);
    }

    public override Task<UpdateReply> SubmitUpdate(UpdateRequest request, ServerCallContext context)
    {
        string clientId = Caller(request.ClientId, context);
        metrics.Received(request.CalculateSize());
        try
        {
            rounds.Submit(clientId, request);
        }
        catch (FederationRefusal refusal)
        {
            metrics.Refused(refusal.Reason);
            throw refusal.ToRpcException();
        }
        return Task.FromResult(new UpdateReply { Accepted = true });
    }

    /// <summary>The authenticated client, which must be the one the request names.</summary>
    private string Caller(string claimed, ServerCallContext context)
    {
        string clientId = FederationAuthentication.ClientOf(context.GetHttpContext());
        if (claimed != clientId)
        {
            metrics.Refused(RefusalReason.WrongClient);
            throw new FederationRefusal(StatusCode.PermissionDenied, RefusalReason.WrongClient,
                $"these credentials are client '{clientId}''s; a request for client '{claimed}' needs that client's own token.").ToRpcException();
        }
        return clientId;
    }
}
