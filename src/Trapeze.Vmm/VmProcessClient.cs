using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace Trapeze.Vmm;

/// <summary>HTTP over a Unix socket: how the monitor talks to a VM process's <c>api.sock</c> (and the CLI to
/// the daemon's socket).</summary>
public sealed class UnixHttpClient : IDisposable
{
    private readonly HttpClient _http;

    public UnixHttpClient(string socketPath, TimeSpan timeout)
    {
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancel) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), cancel).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        // The host name is a placeholder: the connection always goes to the socket.
        _http = new HttpClient(handler) { BaseAddress = new Uri("http://localhost/"), Timeout = timeout };
    }

    /// <summary>Sends a request; returns the status code and body. Connection failures are
    /// <see cref="HttpRequestException"/> (or a timeout's <see cref="TaskCanceledException"/>).</summary>
    public (int Status, string Body) Send(HttpMethod method, string path, string? json = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (json != null) request.Content = new StringContent(json, Encoding.UTF8, "application/json");
        using HttpResponseMessage response = _http.Send(request);
        using var reader = new StreamReader(response.Content.ReadAsStream(), Encoding.UTF8);
        return ((int)response.StatusCode, reader.ReadToEnd());
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>The control API of one running VM process (its <c>api.sock</c>).</summary>
public sealed class VmProcessClient(string socketPath, TimeSpan? timeout = null) : IDisposable
{
    private readonly UnixHttpClient _http = new(socketPath, timeout ?? TimeSpan.FromSeconds(10));

    /// <summary><c>Running</c> or <c>Paused</c>, or null when the process does not answer.</summary>
    public string? TryGetState()
    {
        try
        {
            var (status, body) = _http.Send(HttpMethod.Get, "vm");
            if (status != 200) return null;
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.GetProperty("state").GetString();
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or IOException or KeyNotFoundException)
        {
            return null;
        }
    }

    /// <summary>Sends <c>PUT /actions</c>; returns whether the VM process took it.</summary>
    public void Action(string actionType) => Check(_http.Send(HttpMethod.Put, "actions", JsonSerializer.Serialize(new Dictionary<string, string> { ["action_type"] = actionType })));

    public string SaveSnapshot(string path) => Check(_http.Send(HttpMethod.Put, "snapshot/create", JsonSerializer.Serialize(new Dictionary<string, string> { ["snapshot_path"] = path })));

    public string Migrate(string destination) => Check(_http.Send(HttpMethod.Put, "migrate", JsonSerializer.Serialize(new Dictionary<string, string> { ["destination"] = destination })));

    /// <summary>Saves the bundle snapshot <paramref name="tag"/>, disks included (the VM process knows its bundle).</summary>
    public string SaveBundleSnapshot(string tag) => Check(_http.Send(HttpMethod.Put, "snapshot/create", JsonSerializer.Serialize(new Dictionary<string, string> { ["snapshot_tag"] = tag })));

    public string Metrics() => Check(_http.Send(HttpMethod.Get, "metrics"));

    public string PatchVm(string state) => Check(_http.Send(HttpMethod.Patch, "vm", JsonSerializer.Serialize(new Dictionary<string, string> { ["state"] = state })));

    private static string Check((int Status, string Body) r)
    {
        if (r.Status is >= 200 and < 300) return r.Body;
        throw ApiFault.ToException(r.Status, r.Body);
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>The error body of every endpoint, in Firecracker's shape: <c>{"fault_message": "..."}</c>.</summary>
public static class ApiFault
{
    public static string Json(string message) => JsonSerializer.Serialize(new Dictionary<string, string> { ["fault_message"] = message }, Options);

    /// <summary>Messages quote names ('a'): kept readable rather than escaped for HTML (the API serves no HTML).</summary>
    public static readonly JsonSerializerOptions Options = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static int StatusCode(VmErrorKind kind) => kind switch
    {
        VmErrorKind.BadRequest => 400,
        VmErrorKind.NotFound => 404,
        VmErrorKind.Conflict => 409,
        _ => 501,
    };

    public static VmException ToException(int status, string body)
    {
        string message = $"HTTP {status}";
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.TryGetProperty("fault_message", out JsonElement m) && m.GetString() is { } s) message = s;
        }
        catch (JsonException) { }
        VmErrorKind kind = status switch
        {
            404 => VmErrorKind.NotFound,
            409 => VmErrorKind.Conflict,
            501 => VmErrorKind.NotAvailable,
            _ => VmErrorKind.BadRequest,
        };
        return new VmException(kind, message);
    }
}
