using System.Text.Json.Serialization;

namespace RedisSidecars.E2E;

[JsonSerializable(typeof(string))]
internal sealed partial class E2EJson : JsonSerializerContext;
