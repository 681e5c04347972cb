namespace MetaCluster.Core.Federated;

/// <summary>
/// What one federated round did: the clients whose updates made the step, the samples it took, the clients dropped
/// by reason (over every sample), the traffic (θ down to every sampled client, updates up from those that answered,
/// 4 bytes a parameter), the mean of the participants' metrics (in client-id order) and the sizes of their updates.
/// </summary>
public sealed record FederatedRoundReport(
    long Round, int Attempts, IReadOnlyList<string> Participants, int Sampled,
    IReadOnlyDictionary<DropReason, int> Dropped, long BytesDown, long BytesUp, long Examples,
    double? PreLoss, double PostLoss, double? PreAccuracy, double? PostAccuracy,
    double MeanUpdateNorm, double MaxUpdateNorm, double ServerLearningRate, double Seconds)
{
    public long Bytes => BytesDown + BytesUp;
    public int DroppedCount => Dropped.Values.Sum();
}
