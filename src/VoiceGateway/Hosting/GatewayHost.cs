using Microsoft.Extensions.FileProviders;
using VoiceAgent.Core;
using VoiceAgent.Gateway.Cli;

namespace VoiceAgent.Gateway.Hosting;

/// <summary>Builds and runs the ASP.NET Core gateway (Kestrel bound to loopback unless configured otherwise).</summary>
internal static class GatewayHost
{
    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var options = new ArgReader(args, new HashSet<string> { "--port", "--host" });
        var port = options.Int("--port", fallback: 8080, min: 1, max: 65535);
        var host = options.Single("--host") ?? "127.0.0.1";

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.WebHost.UseUrls($"http://{host}:{port}");

        var app = builder.Build();
        var webRoot = VoiceAgentPaths.Root is { } root ? Path.Combine(root, "web-client") : null;
        if (webRoot is not null && Directory.Exists(webRoot))
        {
            var files = new PhysicalFileProvider(webRoot);
            app.UseDefaultFiles(new DefaultFilesOptions { FileProvider = files });
            app.UseStaticFiles(new StaticFileOptions { FileProvider = files });
        }

        app.MapGet("/healthz", () => Results.Json(new HealthReport("ok")));

        try
        {
            await app.RunAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex) when (ex.InnerException is System.Net.Sockets.SocketException || ex.Message.Contains("address", StringComparison.OrdinalIgnoreCase))
        {
            throw new CliException($"cannot listen on {host}:{port} ({ex.Message.TrimEnd('.')}).");
        }

        return 0;
    }

    private sealed record HealthReport(string Status);
}
