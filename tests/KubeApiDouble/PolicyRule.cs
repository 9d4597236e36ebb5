using YamlDotNet.RepresentationModel;

namespace RedisSidecars.KubeApiDouble;

/// <summary>
/// One rule of an RBAC Role, matched as the real RBAC authorizer matches it: "*" matches any group, resource or
/// verb; a resource is "pods" or "pods/status" ("*/status" matches every status subresource); a rule with
/// <see cref="ResourceNames"/> allows only requests that name one of them. A get, patch, update or delete names
/// its object in the path; a list or watch names one only through <c>fieldSelector=metadata.name=NAME</c>, and a
/// create never does (so a rule with resourceNames never allows create).
/// </summary>
public sealed record PolicyRule(
    IReadOnlyList<string> ApiGroups, IReadOnlyList<string> Resources, IReadOnlyList<string> Verbs, IReadOnlyList<string>? ResourceNames = null)
{
    public bool Allows(string verb, string apiGroup, string resource, string? name) =>
        (ApiGroups.Contains("*") || ApiGroups.Contains(apiGroup))
        && (Verbs.Contains("*") || Verbs.Contains(verb))
        && Resources.Any(r => r == "*" || r == resource
            || (resource.IndexOf('/', StringComparison.Ordinal) is var slash and > 0 && r == $"*/{resource[(slash + 1)..]}"))
        && (ResourceNames is null or { Count: 0 } || (name is { Length: > 0 } && ResourceNames.Contains(name)));

    public override string ToString() =>
        $"apiGroups [{Quote(ApiGroups)}], resources [{Quote(Resources)}], verbs [{Quote(Verbs)}]"
        + (ResourceNames is { Count: > 0 } ? $", resourceNames [{Quote(ResourceNames)}]" : "");

    private static string Quote(IEnumerable<string> items) => string.Join(", ", items.Select(i => $"\"{i}\""));
}

/// <summary>Reads Roles from rendered manifests (e.g. the output of <c>kubectl kustomize manifests/base</c>).</summary>
public static class RoleRules
{
    /// <summary>The rules of the Role named <paramref name="roleName"/> in a multi-document YAML stream.</summary>
    /// <exception cref="InvalidOperationException">No such Role, or it is not exactly once in the stream.</exception>
    public static IReadOnlyList<PolicyRule> FromYaml(string yaml, string roleName)
    {
        var stream = new YamlStream();
        using (var reader = new StringReader(yaml))
        {
            stream.Load(reader);
        }

        var roles = stream.Documents
            .Select(d => d.RootNode as YamlMappingNode)
            .Where(m => m is not null && Scalar(m, "kind") == "Role" && (Child(m, "metadata") is YamlMappingNode meta) && Scalar(meta, "name") == roleName)
            .ToList();
        if (roles.Count != 1)
        {
            throw new InvalidOperationException($"expected exactly one Role named {roleName} in the manifests, found {roles.Count}");
        }

        return [.. (Child(roles[0]!, "rules") as YamlSequenceNode ?? []).OfType<YamlMappingNode>().Select(rule => new PolicyRule(
            Strings(rule, "apiGroups"), Strings(rule, "resources"), Strings(rule, "verbs"), Strings(rule, "resourceNames")))];
    }

    private static YamlNode? Child(YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out var node) ? node : null;

    private static string? Scalar(YamlMappingNode map, string key) => (Child(map, key) as YamlScalarNode)?.Value;

    private static string[] Strings(YamlMappingNode map, string key) =>
        Child(map, key) is YamlSequenceNode list ? [.. list.OfType<YamlScalarNode>().Select(s => s.Value ?? "")] : [];
}
