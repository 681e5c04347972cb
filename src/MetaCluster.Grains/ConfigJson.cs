using System.Text.Json;
using MetaCluster.Core.Training;

namespace MetaCluster.Grains;

/// <summary>TrainingConfig ⇄ the JSON that travels in grain messages (the same serializer checkpoints use).</summary>
public static class ConfigJson
{
    public static string Write(TrainingConfig config) => JsonSerializer.Serialize(config);

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
