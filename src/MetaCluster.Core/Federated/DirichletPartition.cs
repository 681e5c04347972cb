using MetaCluster.Core.Episodes;

namespace MetaCluster.Core.Federated;

/// <summary>
/// A seeded Dirichlet(α) label partition of a class pool for non-IID studies (after Hsu et al. 2019): every class
/// belongs to a label group (an Omniglot alphabet, a folder of classes); client k draws its preference q_k ~ Dir(α)
/// over the groups, and the classes are dealt round-robin — each turn a client takes one class from a group drawn by
/// q_k among the groups with classes left — until every class is assigned, exactly once, and clients differ in size
/// by at most one class. Small α: a client's classes come from one or two groups; large α: from all of them.
/// </summary>
public static class DirichletPartition
{
    /// <summary>The classes (indices into <paramref name="classGroups"/>) of each of <paramref name="clients"/> clients.</summary>
    public static int[][] Deal(IReadOnlyList<int> classGroups, int clients, double alpha, ulong seed)
    {
        if (clients < 1) throw new ArgumentException($"a partition needs at least one client (got {clients}).");
        if (classGroups.Count < clients)
            throw new ArgumentException($"{classGroups.Count} classes cannot be dealt to {clients} clients; lower --clients.");
        if (!(alpha > 0) || !double.IsFinite(alpha)) throw new ArgumentException($"the Dirichlet α must be a positive number (got {alpha}).");
        int groups = classGroups.Max() + 1;
        var rng = new DeterministicRandom(DeterministicRandom.DeriveSeed(seed, ClientSeeds.PartitionStream));
        // Each group's classes in a seeded order, taken from the end.
        var left = Enumerable.Range(0, groups).Select(g =>
        {
            int[] members = Enumerable.Range(0, classGroups.Count).Where(c => classGroups[c] == g).ToArray();
            return rng.SampleWithoutReplacement(members.Length, members.Length).Select(i => members[i]).ToList();
        }).ToArray();
        var preference = Enumerable.Range(0, clients).Select(_ => Sample(groups, alpha, rng)).ToArray();
        var dealt = Enumerable.Range(0, clients).Select(_ => new List<int>()).ToArray();
        int remaining = classGroups.Count;
        while (remaining > 0)
            for (int k = 0; k < clients && remaining > 0; k++)
            {
                int g = PickGroup(preference[k], left, rng);
                dealt[k].Add(left[g][^1]);
                left[g].RemoveAt(left[g].Count - 1);
                remaining--;
            }
        return dealt.Select(d => d.Order().ToArray()).ToArray();
    }

    /// <summary>One draw of Dir(α, …, α): normalised Gamma(α) variates (Marsaglia and Tsang 2000).</summary>
    public static double[] Sample(int size, double alpha, DeterministicRandom rng)
    {
        var draw = new double[size];
        for (int i = 0; i < size; i++) draw[i] = Gamma(alpha, rng);
        double sum = draw.Sum();
        // Tiny α can underflow every variate to zero: then the preference is uniform, not NaN.
        for (int i = 0; i < size; i++) draw[i] = sum > 0 ? draw[i] / sum : 1.0 / size;
        return draw;
    }

    private static int PickGroup(double[] preference, List<int>[] left, DeterministicRandom rng)
    {
        double total = 0;
        for (int g = 0; g < left.Length; g++) if (left[g].Count > 0) total += preference[g];
        bool uniform = !(total > 0);
        if (uniform) total = left.Count(l => l.Count > 0);
        double u = rng.NextDouble() * total;
        int last = -1;
        for (int g = 0; g < left.Length; g++)
        {
            if (left[g].Count == 0) continue;
            last = g;
            u -= uniform ? 1 : preference[g];
            if (u < 0) return g;
        }
        return last; // rounding at the end of the interval
    }

    private static double Gamma(double alpha, DeterministicRandom rng)
    {
        if (alpha < 1)
        {
            // Gamma(α) = Gamma(α + 1)·U^(1/α).
            double u = rng.NextDouble();
            return Gamma(alpha + 1, rng) * Math.Pow(u, 1 / alpha);
        }
        double d = alpha - 1.0 / 3, c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double x, v;
            do
            {
                x = Normal(rng);
                v = 1 + c * x;
            } while (v <= 0);
            v = v * v * v;
            double u = rng.NextDouble();
            if (u < 1 - 0.0331 * x * x * x * x || Math.Log(u) < 0.5 * x * x + d * (1 - v + Math.Log(v))) return d * v;
        }
    }

    private static double Normal(DeterministicRandom rng)
    {
        // Box–Muller; 1 − U avoids log(0).
        double u1 = 1 - rng.NextDouble(), u2 = rng.NextDouble();
        return Math.Sqrt(-2 * Math.Log(u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
