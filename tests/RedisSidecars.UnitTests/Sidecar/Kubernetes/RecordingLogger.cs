using Microsoft.Extensions.Logging;

namespace RedisSidecars.UnitTests.Sidecar.Kubernetes;

/// <summary>Keeps every log line (level, event id, text) so tests can assert what the edge said, and how often.</summary>
public sealed class RecordingLogger : ILogger
{
    private readonly List<(LogLevel Level, EventId Id, string Text)> _lines = [];

    public IReadOnlyList<(LogLevel Level, EventId Id, string Text)> Lines
    {
        get
        {
            lock (_lines)
            {
                return [.. _lines];
            }
        }
    }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_lines)
        {
            _lines.Add((logLevel, eventId, formatter(state, exception)));
        }
    }
}
