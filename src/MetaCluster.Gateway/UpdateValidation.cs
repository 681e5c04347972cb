using Grpc.Core;
using MetaCluster.Core.Federated;
using MetaCluster.Gateway.Protocol;

namespace MetaCluster.Gateway;

/// <summary>
/// What an update must be before it goes anywhere near the aggregate: exactly θ's size, finite, a positive weight and
/// sane figures. One refusal per problem, naming it, with the status code and metric reason it is counted under.
/// </summary>
public static class UpdateValidation
{
    /// <summary>The update as a <see cref="ClientUpdate"/>, or a <see cref="FederationRefusal"/> saying what is wrong with it.</summary>
    public static ClientUpdate Validate(string clientId, UpdateRequest request, int parameterCount)
    {
        long expected = (long)parameterCount * sizeof(float);
        if (request.Update.Length != expected)
            throw new FederationRefusal(StatusCode.InvalidArgument, RefusalReason.BadShape,
                $"the update has {request.Update.Length} bytes; θ of round {request.Round} has {parameterCount} float32 parameters, {expected} bytes.");
        if (request.Weight < 1)
            throw new FederationRefusal(StatusCode.InvalidArgument, RefusalReason.BadWeight,
                $"the update's weight must be at least 1 (an example count, or 1 for uniform weighting); got {request.Weight}.");
        var metrics = request.Metrics ?? throw new FederationRefusal(StatusCode.InvalidArgument, RefusalReason.BadMetrics, "the update has no metrics.");
        if (metrics.Episodes < 0)
            throw new FederationRefusal(StatusCode.InvalidArgument, RefusalReason.BadMetrics, $"the update's episode count must be 0 or more; got {metrics.Episodes}.");

        float[] values = WireFloats.ToFloats(request.Update);
        int bad = Array.FindIndex(values, v => !float.IsFinite(v));
        if (bad >= 0)
            throw new FederationRefusal(StatusCode.InvalidArgument, RefusalReason.NonFinite,
                $"the update has a non-finite value ({values[bad]}) at parameter {bad}: a diverged client's update is not aggregated.");
        return new ClientUpdate(clientId, request.Round, values, request.Weight, new ClientMetrics(metrics.Episodes,
            metrics.HasPreLoss ? metrics.PreLoss : null, metrics.PostLoss,
            metrics.HasPreAccuracy ? metrics.PreAccuracy : null, metrics.HasPostAccuracy ? metrics.PostAccuracy : null));
    }
}
