using MetaCluster.Core.Federated;
using MetaCluster.Core.Training;

namespace MetaCluster.Server.Federation;

/// <summary>
/// The federated run a server drives (--federated-run): its config, its training clients (the clients file's, in id
/// order — the server holds no data, so the clients it admits are the federation) and where its checkpoint lives.
/// Read and checked before the silo starts: an unreadable or invalid config, or a checkpoint of another run in the
/// way, is one error line and exit code 2, and nothing already saved is touched.
/// </summary>
internal sealed record FederatedRunPlan(FederatedConfig Config, IReadOnlyList<string> Clients, string CheckpointPath, FederatedCheckpoint? Resume)
{
    public static FederatedRunPlan? Load(ServerOptions server, IReadOnlyList<string> clients)
    {
        if (server.FederatedRun is not { } file) return null;
        string json;
        try
        {
            json = File.ReadAllText(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StartupRefusal($"--federated-run {file} cannot be read: {e.Message}");
        }
        FederatedConfig config;
        try
        {
            config = FederatedConfig.FromJson(json);
        }
        catch (Exception e) when (e is ArgumentException or System.Text.Json.JsonException)
        {
            throw new StartupRefusal($"--federated-run {file} is not a federated run's config: {e.Message} (metacluster federated config writes one).");
        }
        if (clients.Count == 0) throw new StartupRefusal("--federated-run needs at least one client in --clients-file.");

        string path = Path.GetFullPath(Path.Combine(server.CheckpointDirectory ?? "checkpoints", FederatedCheckpoint.FileName));
        FederatedCheckpoint? resume = null;
        if (File.Exists(path))
        {
            try
            {
                resume = FederatedCheckpoint.Load(path);
            }
            catch (CheckpointException e)
            {
                throw new StartupRefusal($"{path} cannot be resumed: {e.Message} Move it away to start the run afresh.");
            }
            // A restarted coordinator continues its own run (more rounds may be asked for); another run's file is never overwritten.
            if ((resume.Config with { Rounds = config.Rounds }).ToJson() != config.ToJson())
                throw new StartupRefusal($"{path} holds another federated run (its config differs from --federated-run {file}); point --checkpoint-directory elsewhere or move the file away.");
        }
        return new FederatedRunPlan(config, clients.Order(StringComparer.Ordinal).ToArray(), path, resume);
    }
}
