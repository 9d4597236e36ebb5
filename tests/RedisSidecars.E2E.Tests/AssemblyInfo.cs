// The script tests start real servers and fail them over: one test at a time on a 2-core machine.
[assembly: Xunit.CollectionBehavior(DisableTestParallelization = true)]
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
