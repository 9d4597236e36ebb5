using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RedisSidecars.KubeApiDouble;

/// <summary>An error the double answers with a real <c>Status</c> object (kind Status, apiVersion v1).</summary>
public sealed class KubeApiException(
    int code, string message, string? name = null, string? kind = null, string? group = null, string? reason = null, int? retryAfterSeconds = null)
    : Exception(message)
{
    public int Code { get; } = code;

    public JsonObject ToStatus() => KubeStatus.Failure(Code, Message, name, kind, group, reason, retryAfterSeconds);

    public static KubeApiException NotFound(string resource, string name, string group = "") =>
        new(404, $"{Qualified(resource, group)} \"{name}\" not found", name, resource, group);

    public static KubeApiException Conflict(string resource, string name, string group = "") =>
        new(409, $"Operation cannot be fulfilled on {Qualified(resource, group)} \"{name}\": the object has been modified; "
            + "please apply your changes to the latest version and try again", name, resource, group);

    public static KubeApiException Invalid(string kind, string name, string fieldErrors) =>
        new(422, $"{kind} \"{name}\" is invalid: {fieldErrors}", name, kind);

    public static KubeApiException BadRequest(string message) => new(400, message);

    private static string Qualified(string resource, string group) => group.Length == 0 ? resource : $"{resource}.{group}";
}

/// <summary>Builds <c>Status</c> bodies worded like the real API server's.</summary>
public static class KubeStatus
{
    internal static readonly JsonSerializerOptions JsonOptions = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string Reason(int code) => code switch
    {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "Conflict",
        410 => "Expired",
        415 => "UnsupportedMediaType",
        422 => "Invalid",
        429 => "TooManyRequests",
        500 => "InternalError",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "",
    };

    /// <summary>The message the real server uses for a bare status (an injected fault).</summary>
    public static string DefaultMessage(int code) => code switch
    {
        401 => "Unauthorized",
        404 => "the server could not find the requested resource",
        409 => "Operation cannot be fulfilled: the object has been modified; please apply your changes to the latest version and try again",
        429 => "Too many requests, please try again later.",
        500 => "an error on the server (\"injected by KubeApiDouble\") has prevented the request from succeeding",
        503 => "the server is currently unable to handle the request",
        504 => "the server was unable to return a response in the time allotted, but may still be processing the request",
        _ => $"the server responded with the status code {code} but did not return more information",
    };

    public static JsonObject Failure(
        int code, string message, string? name = null, string? kind = null, string? group = null, string? reason = null, int? retryAfterSeconds = null)
    {
        var status = new JsonObject
        {
            ["kind"] = "Status",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject(),
            ["status"] = "Failure",
            ["message"] = message,
            ["reason"] = reason ?? Reason(code),
        };
        var details = new JsonObject();
        if (name is not null)
        {
            details["name"] = name;
        }

        if (!string.IsNullOrEmpty(group))
        {
            details["group"] = group;
        }

        if (kind is not null)
        {
            details["kind"] = kind;
        }

        if (retryAfterSeconds is { } retryAfter)
        {
            details["retryAfterSeconds"] = retryAfter;
        }

        if (details.Count > 0)
        {
            status["details"] = details;
        }

        status["code"] = code;
        return status;
    }
}
