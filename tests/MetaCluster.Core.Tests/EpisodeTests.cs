using MetaCluster.Core.Episodes;
using MetaCluster.Core.Training;

namespace MetaCluster.Core.Tests;

public class SinusoidEpisodeTests
{
    [Fact]
    public void TheSameSeedGivesTheSameTensorsBitForBit()
    {
        var stream = new EpisodeStream(new SinusoidSource(), new EpisodeSpec(1, 10, 10), runSeed: 5, EpisodeStream.Training);
        using var a = stream.Sample(17);
        using var b = stream.Sample(17);
        using var c = stream.Sample(18);
        Assert.Equal(a.SupportX.data<float>().ToArray(), b.SupportX.data<float>().ToArray());
        Assert.Equal(a.QueryY.data<float>().ToArray(), b.QueryY.data<float>().ToArray());
        Assert.NotEqual(a.SupportX.data<float>().ToArray(), c.SupportX.data<float>().ToArray());
    }

    [Fact]
    public void PointsFollowTheFinnEtAlDistribution()
    {
        var source = new SinusoidSource();
        var spec = new EpisodeSpec(1, 10, 15);
        for (ulong seed = 0; seed < 50; seed++)
        {
            using var episode = source.Sample(spec, 0, seed);
            Assert.Equal([10L, 1L], episode.SupportX.shape);
            Assert.Equal([15L, 1L], episode.QueryY.shape);
            Assert.All(episode.SupportX.data<float>().ToArray(), x => Assert.InRange(x, -5f, 5f));
            Assert.All(episode.QueryY.data<float>().ToArray(), y => Assert.InRange(Math.Abs(y), 0f, 5f));
        }
        Assert.Throws<ArgumentException>(() => source.Validate(new EpisodeSpec(2, 10, 10)));
    }
}
