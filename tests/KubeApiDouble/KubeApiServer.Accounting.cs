namespace RedisSidecars.KubeApiDouble;

/// <summary>Request accounting: how many API requests of each verb and resource arrived since a mark.</summary>
public sealed partial class KubeApiServer
{
    private readonly List<(TimeSpan Elapsed, string Verb, string Resource)> _arrivals = [];

    /// <summary>Marks now; <see cref="CountRequestsSince"/> counts the requests that arrive after it.</summary>
    public RequestMark MarkRequests()
    {
        lock (_gate)
        {
            return new RequestMark(_arrivals.Count, Timeline.Elapsed);
        }
    }

    /// <summary>The requests that arrived since <paramref name="mark"/> (default: since the start), by verb and resource.</summary>
    public RequestCounts CountRequestsSince(RequestMark mark = default)
    {
        lock (_gate)
        {
            var counts = _arrivals.Skip((int)mark.Sequence)
                .GroupBy(a => (a.Verb, a.Resource))
                .ToDictionary(g => g.Key, g => g.Count());
            return new RequestCounts(counts, Timeline.Elapsed - mark.Elapsed);
        }
    }

    private void CountArrival(string verb, string resource)
    {
        lock (_gate)
        {
            _arrivals.Add((Timeline.Elapsed, verb, resource));
        }
    }
}
