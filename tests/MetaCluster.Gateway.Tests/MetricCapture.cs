using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace MetaCluster.Gateway.Tests;

/// <summary>Sums the counters of one host's meters (by its meter factory: tests running beside each other do not mix).</summary>
public sealed class MetricCapture : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, long> _sums = new();

    public MetricCapture(IMeterFactory factory)
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Scope == factory && instrument.Meter.Name == FederationMetrics.MeterName) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string key = instrument.Name;
            foreach (var tag in tags) key += $"{{{tag.Key}={tag.Value}}}";
            _sums.AddOrUpdate(key, value, (_, sum) => sum + value);
        });
        _listener.SetMeasurementEventCallback<int>((instrument, value, _, _) =>
        {
            if (instrument.Name == "metacluster.federation.clients_seen") Interlocked.Exchange(ref _gauge, value);
        });
        _listener.Start();
    }

    public long Sum(string instrument) => _sums.Where(p => p.Key == instrument || p.Key.StartsWith(instrument + "{")).Sum(p => p.Value);

    public long Refused(string reason) => _sums.GetValueOrDefault($"metacluster.federation.refused{{reason={reason}}}");

    public long ClientsSeen()
    {
        _listener.RecordObservableInstruments();
        return Interlocked.Read(ref _gauge);
    }

    private long _gauge;

    public void Dispose() => _listener.Dispose();
}
