using RedisSidecars.E2E.Deploy;

namespace RedisSidecars.E2E.Cluster;

/// <summary>
/// The POSIX sh scripts the suite runs inside the cluster (busybox sh in the Redis/Valkey images). Pure text: the
/// same scripts run against real servers on loopback in the tests. Passwords are never part of a script: they are
/// read from the pod's mounted Secret file, or come from the pod's environment (a secretKeyRef), and handed to the
/// CLI through its environment (REDISCLI_AUTH, VALKEYCLI_AUTH), never on a command line.
/// </summary>
public static class Scripts
{
    /// <summary>Single-quotes a word for sh.</summary>
    public static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    static string AuthFromFile(string file) =>
        $"p=\"$(cat {Quote(file)})\" || exit 3; export REDISCLI_AUTH=\"$p\" VALKEYCLI_AUTH=\"$p\"; unset p; ";

    static string Cli(ServerContainer s, string host) => $"{Quote(s.Cli)} -h {Quote(host)} -p {s.Port}";

    /// <summary>In a Sentinel container: the master address this Sentinel gives (two lines, host and port).</summary>
    public static string SentinelMaster(ServerContainer sentinel, string masterSet, string host = "127.0.0.1") =>
        AuthFromFile(sentinel.PasswordFile) + $"exec {Cli(sentinel, host)} SENTINEL get-master-addr-by-name {Quote(masterSet)}";

    /// <summary>In a Sentinel container: one CSV line per message on +switch-master, until killed.</summary>
    public static string SwitchMasterFeed(ServerContainer sentinel, string host = "127.0.0.1") =>
        AuthFromFile(sentinel.PasswordFile) + $"exec {Cli(sentinel, host)} --csv SUBSCRIBE +switch-master";

    /// <summary>In a Redis container (admin password): its role on the first line, then every key under the prefix.</summary>
    public static string ReadBack(ServerContainer redis, string prefix, string host = "127.0.0.1") =>
        AuthFromFile(redis.PasswordFile) + $"{Cli(redis, host)} ROLE | head -n 1; exec {Cli(redis, host)} --scan --pattern {Quote(prefix + ":*")}";

    /// <summary>In a client pod (user and password from its environment): ROLE and CLIENT INFO over one connection to
    /// <paramref name="host"/>, so the reply names the server's own address (laddr).</summary>
    public static string RoleThrough(string cli, string host, int port) =>
        $"printf 'ROLE\\nCLIENT INFO\\n' | {Quote(cli)} -h {Quote(host)} -p {port} --user \"$REDIS_USER\"";

    /// <summary>Environment variable names a client pod gets from the application Secret.</summary>
    public const string UserVariable = "REDIS_USER";
    public static readonly string[] PasswordVariables = ["REDISCLI_AUTH", "VALKEYCLI_AUTH"];

    /// <summary>
    /// The writer: SET prefix:N then WAIT 1 over one connection, N = 1, 2, …, through <paramref name="host"/>, as fast as
    /// the CLI starts, until <paramref name="stopFile"/> exists or for at most <paramref name="maxSeconds"/>. One line per attempt, a millisecond clock first:
    /// "T start PREFIX", "T ack N" (SET answered OK and WAIT counted at least one replica), "T err N REPLY" (anything
    /// else: refused, paused past the timeout, no replica in time; then a 100 ms pause), "T end N". The clock is the node's wall clock in
    /// ms where date has %N, else /proc/uptime (10 ms steps); gaps are measured within one writer's clock only.
    /// </summary>
    public static string Writer(string cli, string host, int port, string prefix, int waitMs, int maxSeconds, string stopFile) => $$"""
        if date +%s%N | grep -q '^[0-9]\{19\}$'; then now() { t=$(date +%s%N); echo "${t%??????}"; }
        else now() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }; fi
        prefix={{Quote(prefix)}}
        end=$(( $(now) + {{maxSeconds}} * 1000 ))
        echo "$(now) start $prefix"
        i=0
        while :; do
          i=$((i + 1))
          r=$(printf 'SET %s:%d %d\nWAIT 1 %d\n' "$prefix" "$i" "$i" {{waitMs}} | timeout 5 {{Quote(cli)}} -h {{Quote(host)}} -p {{port}} --user "$REDIS_USER" 2>&1 | tr '\n' ' ')
          t=$(now)
          case "$r" in
            "OK "[1-9]*) echo "$t ack $i" ;;
            *) echo "$t err $i $r"; sleep 0.1 ;;
          esac
          [ "$t" -lt "$end" ] && [ ! -e {{Quote(stopFile)}} ] || break
        done
        echo "$(now) end $i"
        """;
}
