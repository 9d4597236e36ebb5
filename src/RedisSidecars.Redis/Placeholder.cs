namespace RedisSidecars.Redis; internal static class Placeholder { }
