// Cluster tests start silos and time failures: on a 2-core machine they run one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
