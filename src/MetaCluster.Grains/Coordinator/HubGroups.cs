namespace MetaCluster.Grains.Coordinator;

/// <summary>
/// A second level of the aggregation tree over the worker silos' hubs: the live hubs in groups of
/// <paramref name="size"/> (in the directory's order), the first of each group its leader. The coordinator dispatches
/// to the leaders only; a leader deals part of its share to its group's other hubs (<c>WorkRequest.Members</c>) and
/// answers with one partial sum for the group — so the coordinator sends θ and reads a sum once a group, not once a
/// silo. The sums are exact, so the grouping never changes θ.
/// </summary>
internal sealed class HubGroups(int size, Func<string, int> slotsOf)
{
    private readonly Dictionary<string, string[]> _members = new(StringComparer.Ordinal);

    /// <summary>Groups <paramref name="hubs"/> and returns the leaders, the targets of the round's dispatch.</summary>
    public IReadOnlyList<string> Lead(IReadOnlyList<string> hubs)
    {
        var leaders = new List<string>();
        foreach (var group in hubs.Chunk(Math.Max(1, size)))
        {
            leaders.Add(group[0]);
            _members[group[0]] = group[1..];
        }
        return leaders;
    }

    /// <summary>The other hubs of <paramref name="leader"/>'s group (none for a hub that leads no group).</summary>
    public string[] MembersOf(string leader) => _members.GetValueOrDefault(leader) ?? [];

    /// <summary>Slots a leader stands for: its own silo's and its members'.</summary>
    public int SlotsOf(string leader) => slotsOf(leader) + MembersOf(leader).Sum(slotsOf);
}
