using Google.Protobuf.Reflection;
using MetaCluster.Gateway.Protocol;

namespace MetaCluster.Gateway.Tests;

/// <summary>
/// What the wire can carry, read from the generated descriptors: every message and field of federation.proto is one of
/// the allowed ones (ids, round numbers, θ/update bytes and θ's layout, weights, metrics, config), so no change to the
/// schema can make room for an image, a label or an episode without failing here.
/// </summary>
public sealed class FederationSchemaTests
{
    private static readonly Dictionary<string, string[]> Allowed = new()
    {
        ["RoundRequest"] = ["client_id"],
        ["RoundReply"] = ["state", "round", "attempt", "sampled", "theta", "theta_layout", "config_json", "config_version", "deadline_unix_ms", "poll_after_ms"],
        ["ThetaTensor"] = ["name", "shape"],
        ["UpdateRequest"] = ["client_id", "round", "attempt", "update", "weight", "metrics"],
        ["UpdateMetrics"] = ["episodes", "pre_loss", "post_loss", "pre_accuracy", "post_accuracy"],
        ["UpdateReply"] = ["accepted"],
    };

    [Fact]
    public void The_schema_has_only_the_allowed_messages_and_fields()
    {
        var file = FederationReflection.Descriptor;
        Assert.Equal(Allowed.Keys.Order(), file.MessageTypes.Select(m => m.Name).Order());
        foreach (var message in file.MessageTypes)
        {
            Assert.Empty(message.NestedTypes);
            Assert.Equal(Allowed[message.Name].Order(), message.Fields.InDeclarationOrder().Select(f => f.Name).Order());
        }
        var service = Assert.Single(file.Services);
        Assert.Equal(["GetRound", "SubmitUpdate"], service.Methods.Select(m => m.Name));
        Assert.Empty(file.Dependencies); // no imported message (Any, Struct, …) can widen it either
    }

    [Fact]
    public void What_a_client_sends_is_scalars_and_one_bytes_field_the_update()
    {
        var sent = new[] { RoundRequest.Descriptor, UpdateRequest.Descriptor, UpdateMetrics.Descriptor };
        var fields = sent.SelectMany(m => m.Fields.InDeclarationOrder()).ToArray();
        Assert.All(fields, f => Assert.False(f.IsRepeated || f.IsMap, $"{f.FullName} is repeated"));
        Assert.Equal(["metacluster.federation.v1.UpdateRequest.update"], fields.Where(f => f.FieldType == FieldType.Bytes).Select(f => f.FullName));
        Assert.Equal(["metacluster.federation.v1.UpdateRequest.client_id", "metacluster.federation.v1.RoundRequest.client_id"],
            fields.Where(f => f.FieldType == FieldType.String).Select(f => f.FullName).OrderDescending());
        Assert.Equal(["metacluster.federation.v1.UpdateRequest.metrics"], fields.Where(f => f.FieldType == FieldType.Message).Select(f => f.FullName));
    }
}
