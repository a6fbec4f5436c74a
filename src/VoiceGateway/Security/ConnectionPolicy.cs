using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using VoiceAgent.Gateway.Hosting;
using VoiceAgent.Gateway.Metrics;

namespace VoiceAgent.Gateway.Security;

/// <summary>
/// Who may open a voice connection: the optional bearer token (<see cref="GatewayOptions.AuthToken"/>) and, for
/// browsers, the Origin check (<see cref="GatewayOptions.AllowedOrigins"/>; the gateway's own origin is always allowed).
/// Transports register their paths with <see cref="Protect"/>; the middleware answers 403 / 401 before any upgrade,
/// so a refused client never costs a session. Non-browser clients send no Origin and are judged by the token alone.
/// </summary>
public sealed class ConnectionPolicy(IOptions<GatewayOptions> options, GatewayMetrics metrics, ILogger<ConnectionPolicy> logger)
{
    private readonly List<(PathString Path, string Transport)> _protected = [];

    /// <summary>Requests under <paramref name="path"/> are checked and refusals counted under <paramref name="transport"/>.</summary>
    public void Protect(PathString path, string transport)
    {
        lock (_protected)
        {
            _protected.Add((path, transport));
        }
    }

    /// <summary>Checks a request; returns the HTTP status to refuse it with, or null to let it through.</summary>
    public int? Check(HttpContext context)
    {
        string? transport = null;
        lock (_protected)
        {
            foreach (var (path, name) in _protected)
            {
                if (context.Request.Path.StartsWithSegments(path))
                {
                    transport = name;
                    break;
                }
            }
        }

        if (transport is null)
        {
            return null;
        }

        var settings = options.Value;
        if (context.Request.Headers.Origin is { Count: > 0 } origins && !IsAllowedOrigin(origins.ToString(), context.Request, settings))
        {
            metrics.SessionRejected(transport, "origin");
            logger.LogWarning("Refused a {Transport} connection from origin {Origin}", transport, origins.ToString());
            return StatusCodes.Status403Forbidden;
        }

        if (!string.IsNullOrEmpty(settings.AuthToken) && !HasToken(context.Request, settings.AuthToken))
        {
            metrics.SessionRejected(transport, "auth");
            return StatusCodes.Status401Unauthorized;
        }

        return null;
    }

    private static bool IsAllowedOrigin(string origin, HttpRequest request, GatewayOptions settings)
    {
        var own = $"{request.Scheme}://{request.Host.Value}";
        if (string.Equals(origin, own, StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        foreach (var allowed in settings.AllowedOrigins)
        {
            if (allowed == "*" || string.Equals(origin, allowed.TrimEnd('/'), StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    private static bool HasToken(HttpRequest request, string expected)
    {
        // Browsers cannot set headers on a WebSocket, so the token may also come as ?access_token= (as SignalR clients send it).
        string? presented = null;
        if (request.Headers.Authorization is { Count: > 0 } header && header.ToString() is { } value
            && value.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            presented = value["Bearer ".Length..].Trim();
        }
        else if (request.Query.TryGetValue("access_token", out StringValues query))
        {
            presented = query.ToString();
        }

        if (string.IsNullOrEmpty(presented))
        {
            return false;
        }

        // Compare digests in constant time: neither the content nor the length of the token leaks through timing.
        return CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(presented)), SHA256.HashData(Encoding.UTF8.GetBytes(expected)));
    }
}

/// <summary>Applies <see cref="ConnectionPolicy"/> in the request pipeline.</summary>
public sealed class ConnectionPolicyMiddleware(RequestDelegate next, ConnectionPolicy policy)
{
    public Task InvokeAsync(HttpContext context)
    {
        if (policy.Check(context) is { } status)
        {
            context.Response.StatusCode = status;
            if (status == StatusCodes.Status401Unauthorized)
            {
                context.Response.Headers.WWWAuthenticate = "Bearer";
            }

            return context.Response.WriteAsync(status == StatusCodes.Status401Unauthorized
                ? "A valid bearer token is required (Authorization: Bearer … or ?access_token=…)."
                : "This origin may not connect to the voice gateway.", context.RequestAborted);
        }

        return next(context);
    }
}
