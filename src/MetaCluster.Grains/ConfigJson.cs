using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using MetaCluster.Core.Training;

namespace MetaCluster.Grains;

/// <summary>TrainingConfig ⇄ the JSON that travels in grain messages (the same serializer checkpoints use).</summary>
public static class ConfigJson
{
    public static string Write(TrainingConfig config) => JsonSerializer.Serialize(config);

    /// <summary>Names a config in work requests: the first 16 hex digits of its JSON's SHA-256.</summary>
    public static string Version(string json) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(json)))[..16];

    public static TrainingConfig Read(string json)
    {
        try
        {
            return JsonSerializer.Deserialize<TrainingConfig>(json) ?? throw new ArgumentException("the training config is empty.");
        }
        catch (JsonException e)
        {
            throw new ArgumentException($"the training config is not valid JSON: {e.Message}");
        }
    }
}
