using RedisSidecars.E2E.Analysis;

namespace RedisSidecars.E2E.Tests.Analysis;

public class WriterLogTests
{
    [Fact]
    public void Parse_AcksErrorsAndEnd_AreSeparated()
    {
        var run = WriterLog.Parse("""
            1000 start e2e:ab:failover
            1010 ack 1
            1020 err 2 OK 0 
            1030 err 3 Could not connect to Redis at redis-master:6379: Connection refused
            1040 ack 4
            1050 end 4

            """);

        Assert.Equal("e2e:ab:failover", run.Prefix);
        Assert.Equal(new Dictionary<long, long> { [1] = 1010, [4] = 1040 }, run.AckedAt);
        Assert.Equal([2L, 3L], run.Errors.Select(e => e.Seq));
        Assert.Equal("OK 0", run.Errors[0].Reply);
        Assert.StartsWith("Could not connect", run.Errors[1].Reply, StringComparison.Ordinal);
        Assert.Equal(0, run.Unreadable);
        Assert.True(run.Ended);
        Assert.Equal("e2e:ab:failover:4", run.Key(4));
    }

    [Fact]
    public void Parse_TornLastLine_IsNeverAnAck()
    {
        var run = WriterLog.Parse("1000 start p\n1010 ack 1\n1020 ack 2"); // no newline after the last line

        Assert.Equal([1L], run.AckedAt.Keys);
        Assert.Equal(1, run.Unreadable);
        Assert.False(run.Ended);
    }

    [Fact]
    public void Parse_GarbageAndDuplicates_AreCountedNotTrusted()
    {
        var run = WriterLog.Parse("1000 start p\nnoise\n1010 ack x\n1020 ack 1\n1030 ack 1\n1040 ack 2 extra\n1050 start q\n");

        Assert.Equal("p", run.Prefix); // a second start does not change the prefix
        Assert.Equal([1L], run.AckedAt.Keys);
        Assert.Equal(1020, run.AckedAt[1]); // the first time it was logged
        Assert.Equal(5, run.Unreadable);
    }

    [Fact]
    public void Parse_Empty_IsAnEmptyRun()
    {
        var run = WriterLog.Parse("");
        Assert.Null(run.Prefix);
        Assert.Empty(run.AckedAt);
        Assert.Equal(0, run.Unreadable);
    }
}
