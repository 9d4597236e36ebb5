namespace RedisSidecars.Core; internal static class Placeholder { }
