namespace MetaCluster.Core.Federated;

/// <summary>
/// One client's answer for a round: its update in θ's layout (a parameter delta or a meta-gradient, as the federated
/// algorithm says), the weight it carries in the round's mean (its example count, or 1 for uniform weighting), and
/// what it measured on its own data. Only this — never images, labels or episodes — leaves a client.
/// </summary>
public sealed record ClientUpdate(string ClientId, long Round, float[] Values, long Weight, ClientMetrics Metrics);

/// <summary>A client's local figures for a round: how many episodes it trained on and its query loss/accuracy before and after.</summary>
public sealed record ClientMetrics(int Episodes, double? PreLoss, double PostLoss, double? PreAccuracy, double? PostAccuracy);
