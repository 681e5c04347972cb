using MetaCluster.Core.Federated;
using MetaCluster.Core.Models;

namespace MetaCluster.Gateway.Tests;

/// <summary>
/// A client trainer for the tests: its update is a fixed function of θ, the round and the client id, so the test can
/// compute the exact values the server must get back, bit for bit.
/// </summary>
public sealed class FakeTrainer(string clientId, string configJson) : IClientTrainer
{
    public string ClientId => clientId;
    public string ConfigJson => configJson;

    public ClientUpdate Compute(ParameterSet theta, long round) =>
        new(clientId, round, Expected(theta.Span, round, clientId), Weight(clientId), Metrics(clientId));

    public static float[] Expected(ReadOnlySpan<float> theta, long round, string clientId)
    {
        var values = new float[theta.Length];
        float offset = clientId[0] - 'a' + 1;
        for (int i = 0; i < values.Length; i++) values[i] = theta[i] * -0.5f + offset / 3f + round * 1e-7f * i;
        return values;
    }

    public static long Weight(string clientId) => 10 + clientId[0];

    public static ClientMetrics Metrics(string clientId) => new(3, 1.25 + clientId[0], 0.75, null, 0.5);

    /// <summary>θ for the tests: two tensors, 16 values, with values that a lossy encoding would change (−0, a subnormal, large, tiny).</summary>
    public static ParameterSet Theta(int salt = 0)
    {
        var layout = new ParameterLayout([("w", [3L, 4L]), ("b", [4L])]);
        float[] values = [-0f, float.Epsilon, 1e30f, -1e-30f, 0.1f, 1f / 3f, -2.5f, 123456.79f, 7f, -7f, 0.3f, 1e-8f, 42f, -0.001f, 3.14159265f, salt];
        return new ParameterSet(layout, values);
    }
}
