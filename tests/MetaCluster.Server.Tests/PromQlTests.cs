namespace MetaCluster.Server.Tests;

/// <summary>The PromQL name extraction the dashboard check relies on, against expressions worked out by hand.</summary>
public sealed class PromQlTests
{
    [Theory]
    [InlineData("sum by (run_id) (rate(metacluster_episodes_completed_total{run_id=~\"$run_id\"}[1m]))", "metacluster_episodes_completed_total")]
    [InlineData("histogram_quantile(0.95, sum by (le) (rate(orleans_app_requests_latency_milliseconds_bucket[$__rate_interval])))", "orleans_app_requests_latency_milliseconds_bucket")]
    [InlineData("sum(rate(a_sum[5m])) / sum(rate(a_count[5m])) * 100", "a_sum,a_count")]
    [InlineData("max(orleans_directory_ring_size) or vector(0)", "orleans_directory_ring_size")]
    [InlineData("metacluster_meta_loss{phase=\"post\", run_id=~\"$run_id\"} offset 5m", "metacluster_meta_loss")]
    public void FindsTheMetricNamesAndOnlyThem(string expression, string expected) =>
        Assert.Equal(expected.Split(',').Order(), PromQl.MetricNames(expression).Order());

    [Fact]
    public void ReadsSeriesNamesFromAnExposition() =>
        Assert.Equal(["a_total", "b_bucket"], PromQl.ExposedNames("# HELP a\n# TYPE a counter\na_total{x=\"1\"} 3\nb_bucket{le=\"+Inf\"} 1\n\n").Order());
}
