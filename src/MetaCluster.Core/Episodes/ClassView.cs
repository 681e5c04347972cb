namespace MetaCluster.Core.Episodes;

/// <summary>
/// One class as an episode sees it: a base class of an <see cref="ImageClassSet"/> turned by
/// <see cref="QuarterTurns"/> × 90° counter-clockwise. Santoro et al. and Finn et al. (MAML) treat each rotation of an
/// Omniglot character as a new class, which is how 1,623 characters become 6,492 classes.
/// </summary>
public readonly record struct ClassView(int BaseClass, int QuarterTurns)
{
    /// <summary>Every base class unrotated, or (with <paramref name="rotate"/>) each base class at 0°, 90°, 180° and 270°.</summary>
    public static IReadOnlyList<ClassView> For(IEnumerable<int> baseClasses, bool rotate)
    {
        var views = new List<ClassView>();
        foreach (int c in baseClasses)
            for (int q = 0; q < (rotate ? 4 : 1); q++)
                views.Add(new ClassView(c, q));
        return views;
    }
}
