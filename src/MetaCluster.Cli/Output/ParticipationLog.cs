using System.Text.Json.Nodes;
using MetaCluster.Core.Federated;

namespace MetaCluster.Cli.Output;

/// <summary>
/// <c>--participation-log FILE</c>: one JSON line appended per completed round — every sample it took (the clients
/// sampled, those that answered, those dropped with reason and detail, whether it made the step), the round's
/// totals by client id, its traffic and the size of its updates. The per-sample part holds exactly the checkpoint's
/// <see cref="ParticipationRecord"/>s, so the file replays the run as the checkpoint does, and a monitor can tail it.
/// </summary>
public static class ParticipationLog
{
    public static JsonObject Line(FederatedRoundReport report, IReadOnlyList<ParticipationRecord> samples)
    {
        var accepted = samples.Single(s => s.Accepted);
        var drops = samples.SelectMany(s => s.Dropped).ToArray();
        JsonArray Ids(IEnumerable<string> ids) => [.. ids.Select(id => (JsonNode)id)];
        JsonArray ByReason(DropReason reason) => Ids(drops.Where(d => d.Reason == reason).Select(d => d.ClientId));
        return new JsonObject
        {
            ["round"] = report.Round,
            ["attempts"] = samples.Count,
            ["sampled"] = report.Sampled,
            ["completed"] = Ids(accepted.Completed),
            ["dropped"] = new JsonObject
            {
                ["late"] = ByReason(DropReason.Late),
                ["failed"] = ByReason(DropReason.Failed),
                ["refused"] = ByReason(DropReason.Refused),
            },
            ["bytes_down"] = report.BytesDown,
            ["bytes_up"] = report.BytesUp,
            ["bytes"] = report.Bytes,
            ["update_norm"] = new JsonObject { ["mean"] = JsonReport.Number(report.MeanUpdateNorm), ["max"] = JsonReport.Number(report.MaxUpdateNorm) },
            ["examples"] = report.Examples,
            ["seconds"] = JsonReport.Round(report.Seconds, 4),
            ["samples"] = new JsonArray([.. samples.Select(Sample)]),
        };
    }

    private static JsonNode Sample(ParticipationRecord s) => new JsonObject
    {
        ["attempt"] = s.Attempt,
        ["sampled"] = new JsonArray([.. s.Sampled.Select(id => (JsonNode)id)]),
        ["completed"] = new JsonArray([.. s.Completed.Select(id => (JsonNode)id)]),
        ["dropped"] = new JsonArray([.. s.Dropped.Select(d => (JsonNode)new JsonObject
        {
            ["client"] = d.ClientId, ["reason"] = d.Reason.ToString().ToLowerInvariant(), ["detail"] = d.Detail,
        })]),
        ["accepted"] = s.Accepted,
    };

    /// <summary>Appends one line; the file and its folder are created on first use.</summary>
    public static void Append(string path, JsonObject line) => JsonLines.Append(path, line);
}

/// <summary>Appending JSON lines to a file: one write per line, so a reader tailing it never sees half a line.</summary>
public static class JsonLines
{
    public static void Append(string path, JsonObject line)
    {
        if (Path.GetDirectoryName(Path.GetFullPath(path)) is { } folder) Directory.CreateDirectory(folder);
        File.AppendAllText(path, line.ToJsonString() + "\n");
    }
}
