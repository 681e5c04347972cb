using MetaCluster.Core.Episodes;

namespace MetaCluster.Core.Federated;

/// <summary>
/// The built-in federations: sinusoid clients with their own amplitude/phase ranges, Omniglot by alphabet (the 30
/// background alphabets train, the 20 evaluation alphabets are the new clients), a folder of clients
/// (DIR/&lt;client&gt;/&lt;class&gt;/*.png) and a Dirichlet(α) partition of a class pool. Where no natural held-out set
/// exists, a seeded <see cref="FederatedConfig.EvalClients"/> fraction of the clients is held out.
/// </summary>
public static class Federations
{
    private const string BackgroundRoot = "images_background", EvaluationRoot = "images_evaluation";

    public static Federation Build(FederatedConfig config)
    {
        config.Validate();
        var federation = config.Dataset switch
        {
            "sinusoid" => Sinusoid(config.Clients, config.EvalClients, config.Seed),
            "omniglot" => Omniglot(config),
            _ => config.Partition == "dirichlet"
                ? FolderDirichlet(config.DataDir!, config.Rotate, config.Clients, config.Alpha, config.EvalClients, config.Seed)
                : Folders(config.DataDir!, config.Rotate, config.EvalClients, config.Seed),
        };
        federation.Validate(new EpisodeSpec(config.Ways, config.Shots, config.Queries));
        return federation;
    }

    /// <summary>Clients sine-000 … with <see cref="SinusoidClientSource.ForClient"/>'s ranges; a seeded fraction held out.</summary>
    public static Federation Sinusoid(int clients, double evalFraction, ulong seed)
    {
        var all = Enumerable.Range(0, clients)
            .Select(i => new FederatedClientData($"sine-{i:000}", SinusoidClientSource.ForClient(i), 0)).ToArray();
        var (training, held) = HoldOut(all, evalFraction, seed);
        return new Federation($"sinusoid: {training.Count} clients, {held.Count} new", training, held);
    }

    private static Federation Omniglot(FederatedConfig config)
    {
        // The Lake split keeps each character's background/evaluation origin in its class name.
        var characters = OmniglotDataset.Load(config.DataDir!, new OmniglotOptions { Split = OmniglotSplit.Lake }).Characters;
        return config.Partition == "dirichlet"
            ? OmniglotDirichlet(characters, config.Rotate, config.Clients, config.Alpha, config.Seed)
            : OmniglotByAlphabet(characters, config.Rotate);
    }

    /// <summary>One client per alphabet: background alphabets train, evaluation alphabets are new clients.</summary>
    public static Federation OmniglotByAlphabet(ImageClassSet characters, bool rotate)
    {
        var alphabets = Alphabets(characters);
        FederatedClientData[] Clients(string root) => alphabets.Where(a => a.Root == root)
            .Select(a => ImageClient(a.Alphabet, characters, a.Classes, rotate)).ToArray();
        var training = Clients(BackgroundRoot);
        var held = Clients(EvaluationRoot);
        if (training.Length == 0 || held.Length == 0)
            throw new ArgumentException($"Omniglot by alphabet needs alphabets in both {OmniglotArchive.BackgroundZip} and {OmniglotArchive.EvaluationZip}; found {training.Length} and {held.Length}.");
        return new Federation($"omniglot by alphabet: {training.Length} training alphabets, {held.Length} new (evaluation) alphabets", training, held);
    }

    /// <summary>The background characters dealt to <paramref name="clients"/> clients by Dirichlet(α) over alphabets; evaluation alphabets are the new clients.</summary>
    public static Federation OmniglotDirichlet(ImageClassSet characters, bool rotate, int clients, double alpha, ulong seed)
    {
        var alphabets = Alphabets(characters);
        var background = alphabets.Where(a => a.Root == BackgroundRoot).ToArray();
        int[] pool = background.SelectMany(a => a.Classes).ToArray();
        int[] groups = background.SelectMany((a, g) => a.Classes.Select(_ => g)).ToArray();
        var dealt = DirichletPartition.Deal(groups, clients, alpha, seed);
        var training = dealt.Select((classes, k) => ImageClient($"client-{k:000}", characters, classes.Select(i => pool[i]).ToArray(), rotate)).ToArray();
        var held = alphabets.Where(a => a.Root == EvaluationRoot).Select(a => ImageClient(a.Alphabet, characters, a.Classes, rotate)).ToArray();
        return new Federation($"omniglot Dirichlet(α={alpha}) over {background.Length} alphabets: {training.Length} clients, {held.Length} new (evaluation) alphabets", training, held);
    }

    /// <summary>DIR/&lt;client&gt;/&lt;class&gt;/*.png: one client per sub-folder; a seeded fraction held out.</summary>
    public static Federation Folders(string directory, bool rotate, double evalFraction, ulong seed)
    {
        var all = ClientFolders(directory).Select(dir =>
        {
            var images = ImageFolder.Load(dir, new ImageFolderOptions());
            return ImageClient(Path.GetFileName(dir), images, Enumerable.Range(0, images.ClassCount).ToArray(), rotate);
        }).ToArray();
        var (training, held) = HoldOut(all, evalFraction, seed);
        return new Federation($"folder {Path.GetFileName(Path.GetFullPath(directory))}: {training.Count} clients, {held.Count} new", training, held);
    }

    /// <summary>DIR/&lt;group&gt;/&lt;class&gt;/*.png re-dealt to <paramref name="clients"/> clients by Dirichlet(α) over the groups; a seeded fraction held out.</summary>
    public static Federation FolderDirichlet(string directory, bool rotate, int clients, double alpha, double evalFraction, ulong seed)
    {
        var sets = ClientFolders(directory).Select(dir => ImageFolder.Load(dir, new ImageFolderOptions())).ToArray();
        var first = sets[0];
        if (sets.Any(s => s.Height != first.Height || s.Width != first.Width))
            throw new ArgumentException($"every group under {directory} must have images of one size.");
        // One set over all groups' classes, so any client can hold classes of any group.
        var pixels = sets.SelectMany(s => s.Pixels.AsSpan(0, s.TotalImages * s.PixelsPerImage).ToArray()).ToArray();
        var names = sets.SelectMany(s => s.ClassNames).ToArray();
        var counts = sets.SelectMany(s => Enumerable.Range(0, s.ClassCount).Select(s.ImageCount)).ToArray();
        var pool = new ImageClassSet(pixels, first.Height, first.Width, names, counts);
        int[] groups = sets.SelectMany((s, g) => Enumerable.Repeat(g, s.ClassCount)).ToArray();
        var dealt = DirichletPartition.Deal(groups, clients, alpha, seed);
        var all = dealt.Select((classes, k) => ImageClient($"client-{k:000}", pool, classes, rotate)).ToArray();
        var (training, held) = HoldOut(all, evalFraction, seed);
        return new Federation($"folder Dirichlet(α={alpha}) over {sets.Length} groups: {training.Count} clients, {held.Count} new", training, held);
    }

    /// <summary>
    /// A seeded <paramref name="fraction"/> of <paramref name="clients"/> (at least one when the fraction is positive,
    /// never all) as new clients; both lists in id order.
    /// </summary>
    public static (IReadOnlyList<FederatedClientData> Training, IReadOnlyList<FederatedClientData> Held) HoldOut(
        IReadOnlyList<FederatedClientData> clients, double fraction, ulong seed)
    {
        int held = fraction <= 0 ? 0 : Math.Clamp((int)Math.Round(fraction * clients.Count), 1, clients.Count - 1);
        var order = new Episodes.DeterministicRandom(Episodes.DeterministicRandom.DeriveSeed(seed, ClientSeeds.PartitionStream, 1))
            .SampleWithoutReplacement(clients.Count, clients.Count);
        var heldSet = order.Take(held).ToHashSet();
        return (Enumerable.Range(0, clients.Count).Where(i => !heldSet.Contains(i)).Select(i => clients[i]).OrderBy(c => c.Id, StringComparer.Ordinal).ToArray(),
                heldSet.Order().Select(i => clients[i]).OrderBy(c => c.Id, StringComparer.Ordinal).ToArray());
    }

    private static FederatedClientData ImageClient(string id, ImageClassSet images, IReadOnlyList<int> classes, bool rotate)
    {
        var views = ClassView.For(classes, rotate);
        long examples = classes.Sum(c => (long)images.ImageCount(c)) * (rotate ? 4 : 1);
        return new FederatedClientData(id, new ClassEpisodeSource(images, views, $"client {id} ({views.Count} classes)"), examples);
    }

    private sealed record AlphabetClasses(string Root, string Alphabet, int[] Classes);

    /// <summary>The alphabets of the characters (class names "&lt;root&gt;/&lt;Alphabet&gt;/&lt;character&gt;"), in name order.</summary>
    private static AlphabetClasses[] Alphabets(ImageClassSet characters) =>
        Enumerable.Range(0, characters.ClassCount)
            .Select(c => (Parts: characters.ClassNames[c].Split('/'), Class: c))
            .Where(x => x.Parts.Length == 3)
            .GroupBy(x => (Root: x.Parts[0], Alphabet: x.Parts[1]))
            .OrderBy(g => g.Key.Root, StringComparer.Ordinal).ThenBy(g => g.Key.Alphabet, StringComparer.Ordinal)
            .Select(g => new AlphabetClasses(g.Key.Root, g.Key.Alphabet, g.Select(x => x.Class).ToArray()))
            .ToArray();

    private static string[] ClientFolders(string directory)
    {
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"federation folder not found: {Path.GetFullPath(directory)}; expected DIR/<client>/<class>/<image>.");
        var folders = Directory.GetDirectories(directory).Order(StringComparer.Ordinal).ToArray();
        if (folders.Length < 2)
            throw new ArgumentException($"{directory} holds {folders.Length} client folder(s); a federation needs at least 2 (DIR/<client>/<class>/<image>).");
        return folders;
    }
}
