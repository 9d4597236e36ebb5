namespace RedisSidecars.Core.Settings;

/// <summary>A secret value. Its <see cref="ToString"/> never shows the value, so it cannot reach a log by accident.</summary>
public sealed class Secret(string value)
{
    /// <summary>The secret itself: pass it to a client or a config renderer, never to a logger.</summary>
    public string Reveal() => value;

    public override string ToString() => "***";
}
