namespace MetaCluster.Core.Federated;

/// <summary>
/// Who took part in one sample of a round: the sampled clients, those whose updates were aggregated (when
/// <see cref="Accepted"/>) or counted toward the minimum, and those dropped and why. A run's records are its
/// participation log — kept in the checkpoint — and with the run seed they replay its θ bit for bit
/// (<see cref="ReplayedParticipation"/>).
/// </summary>
/// <param name="Accepted">True for the sample whose updates made the round's step; false for one re-sampled for too few answers.</param>
public sealed record ParticipationRecord(long Round, int Attempt, string[] Sampled, string[] Completed, DroppedClient[] Dropped, bool Accepted);
