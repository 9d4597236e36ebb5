namespace RedisSidecars.Core.Settings;

public static class SidecarDefaults
{
    public const string MasterLabelName = "redis-role";
    public const string MasterLabelValue = "master";
    public const string ReplicaLabelValue = "replica";
    public const string ReadinessConditionType = "redissidecars.io/ready";
    public const int HttpPort = 9180;
    public const int HandoverPort = 9181;
    public const int HandoverTimeoutMs = 20000;
}
