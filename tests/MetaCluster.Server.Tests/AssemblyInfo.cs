// These tests start real processes (redis-server, metacluster-server, metacluster, prometheus) and time failures:
// on a 2-core machine they run one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
