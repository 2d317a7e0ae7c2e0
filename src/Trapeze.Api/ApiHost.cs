using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Trapeze.Vmm;

namespace Trapeze.Api;

/// <summary>What the daemon and the VM processes share: Kestrel on a Unix socket, JSON in and out, and
/// <see cref="VmException"/>s turned into Firecracker-style faults.</summary>
public static class ApiHost
{
    public static WebApplication Build(string socketPath)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.ListenUnixSocket(socketPath));
        return builder.Build();
    }

    /// <summary>Starts <paramref name="app"/>; disposing the result stops it.</summary>
    public static IDisposable Start(WebApplication app)
    {
        app.StartAsync().GetAwaiter().GetResult();
        return new Running(app);
    }

    private sealed class Running(WebApplication app) : IDisposable
    {
        public void Dispose()
        {
            app.StopAsync(TimeSpan.FromSeconds(2)).GetAwaiter().GetResult();
            ((IDisposable)app).Dispose();
        }
    }

    public static async Task<string> ReadBody(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        return await reader.ReadToEndAsync().ConfigureAwait(false);
    }

    /// <summary>Runs <paramref name="handler"/> on the request body; a refusal becomes its status code and
    /// <c>{"fault_message": ...}</c>.</summary>
    public static async Task<IResult> Handle(HttpContext context, Func<string, IResult> handler)
    {
        string body = await ReadBody(context).ConfigureAwait(false);
        try
        {
            // Actions block (start waits for the VM process to answer): off the request's own thread.
            return await Task.Run(() => handler(body)).ConfigureAwait(false);
        }
        catch (VmException e)
        {
            return Fault(ApiFault.StatusCode(e.Kind), e.Message);
        }
    }

    public static IResult Fault(int status, string message) =>
        Results.Content(ApiFault.Json(message), "application/json", Encoding.UTF8, status);

    public static IResult Json(string json) => Results.Content(json, "application/json", Encoding.UTF8, 200);
}
