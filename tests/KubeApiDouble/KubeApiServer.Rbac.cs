namespace RedisSidecars.KubeApiDouble;

/// <summary>RBAC: an enforced Role per service account token, plus ad-hoc denials (<see cref="Forbid"/>).</summary>
public sealed partial class KubeApiServer
{
    private readonly Dictionary<string, string> _users = new(StringComparer.Ordinal);
    private readonly Dictionary<string, IReadOnlyList<PolicyRule>> _roles = new(StringComparer.Ordinal);

    /// <summary>
    /// From now on, requests with <paramref name="serviceAccount"/>'s token (default: <see cref="DefaultServiceAccount"/>,
    /// i.e. <see cref="Token"/>) are authorized against <paramref name="rules"/> only, as the RBAC authorizer does
    /// (see <see cref="PolicyRule"/>); everything else gets a 403 worded like the real one. Without an enforced Role a
    /// token may do everything. Read the manifests' Role with <see cref="RoleRules.FromYaml"/>.
    /// </summary>
    public void EnforceRole(IEnumerable<PolicyRule> rules, string serviceAccount = DefaultServiceAccount)
    {
        lock (_gate)
        {
            _roles[TokenFor(serviceAccount)] = [.. rules];
        }
    }

    /// <summary>Lifts the Role of <paramref name="serviceAccount"/>: its token may do everything again.</summary>
    public void StopEnforcingRole(string serviceAccount = DefaultServiceAccount)
    {
        lock (_gate)
        {
            _roles.Remove(TokenFor(serviceAccount));
        }
    }

    /// <summary>The 403 the real server would answer, or null when the request is allowed.</summary>
    private KubeApiException? Denial(string token, string user, Route route, string fieldSelector)
    {
        var name = route.Name;
        if (route.Verb is "list" or "watch" && name is null)
        {
            // The apiserver's RequestInfo takes the name of a list/watch from an exact metadata.name field selector.
            try
            {
                name = LabelSelector.Parse(fieldSelector, validateKeys: false).ExactMatch("metadata.name");
            }
            catch (FormatException)
            {
                name = null; // the handler answers 400 for it
            }
        }

        bool allowed;
        lock (_gate)
        {
            allowed = !_forbidden.Contains((route.Verb, route.Resource))
                && (!_roles.TryGetValue(token, out var rules) || rules.Any(r => r.Allows(route.Verb, route.Group, route.Resource, name)));
        }

        if (allowed)
        {
            return null;
        }

        var what = route.Resource.Split('/')[0];
        var qualified = route.Group.Length == 0 ? what : $"{what}.{route.Group}";
        return new KubeApiException(403,
            $"{qualified}{(name is null ? "" : $" \"{name}\"")} is forbidden: User \"{user}\" cannot {route.Verb} resource "
            + $"\"{route.Resource}\" in API group \"{route.Group}\" in the namespace \"{route.Namespace}\"",
            name, what, route.Group);
    }
}
