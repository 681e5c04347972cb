namespace MetaCluster.Core.Episodes;

/// <summary>How the 1,623 Omniglot characters are divided into train, validation and test classes.</summary>
public enum OmniglotSplit
{
    /// <summary>
    /// Finn et al. (MAML) / Santoro et al.: all characters of both zips pooled and randomly split (seeded) into
    /// 1,200 train and 423 test characters.
    /// </summary>
    Maml,

    /// <summary>Lake et al.: images_background is train, images_evaluation is test (alphabets never shared).</summary>
    Lake,
}

/// <summary>Options for <see cref="OmniglotDataset.Load"/>; the defaults reproduce the MAML protocol without rotations.</summary>
public sealed record OmniglotOptions
{
    public OmniglotSplit Split { get; init; } = OmniglotSplit.Maml;

    /// <summary>
    /// Treat each 90° rotation of a character as a class of its own (×4 classes in every split, as in the MAML
    /// paper). The four rotations of a character always land in the same split.
    /// </summary>
    public bool Rotate { get; init; }

    /// <summary>Characters in train for the MAML split (validation is carved out of these); the rest are test.</summary>
    public int TrainCharacters { get; init; } = 1200;

    /// <summary>Characters taken out of the train characters for validation; 0 means no validation split.</summary>
    public int ValidationCharacters { get; init; }

    /// <summary>Seed of the fixed permutation behind the MAML split and the validation carve-out.</summary>
    public ulong SplitSeed { get; init; }

    /// <summary>Side of the square images after resizing from 105×105.</summary>
    public int ImageSize { get; init; } = 28;

    /// <summary>Folder for the decoded-pixel cache; null means <see cref="OmniglotCache.DefaultDirectory"/>.</summary>
    public string? CacheDirectory { get; init; }

    /// <summary>False decodes the zips on every load and writes no cache.</summary>
    public bool UseCache { get; init; } = true;

    /// <summary>
    /// Share the pixels with any part of this process that already loaded the same zips at the same size (an embedded
    /// cluster's coordinator, worker slots and evaluation). Off only to exercise the cache file itself.
    /// </summary>
    public bool ReuseLoaded { get; init; } = true;
}
