using System.Text.Json;
using Trapeze.Vmm;

namespace Trapeze.Api;

/// <summary>
/// Actions carried out by <c>trapezed</c>: each is sent as the REST request that the daemon turns back into
/// the same action. Export and import are file operations of the caller's own and stay local.
/// </summary>
public sealed class DaemonClient(VmHome home, VmManager local) : IVmActionExecutor, IDisposable
{
    private readonly UnixHttpClient _http = new(home.DaemonSocket, TimeSpan.FromMinutes(5));

    /// <summary>A client when a daemon answers on <paramref name="home"/>'s socket, else null.</summary>
    public static DaemonClient? TryConnect(VmHome home, VmManager local)
    {
        if (!File.Exists(home.DaemonSocket)) return null;
        var client = new DaemonClient(home, local);
        try
        {
            using var probe = new UnixHttpClient(home.DaemonSocket, TimeSpan.FromSeconds(2));
            // The cheapest request there is: it touches no VM.
            if (probe.Send(HttpMethod.Get, "openapi.yaml").Status == 200) return client;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or IOException) { }
        client.Dispose();
        return null;
    }

    public VmResult Execute(VmAction action)
    {
        string vm = action.Target is { } n && action is not VmAction.Import ? "vms/" + Uri.EscapeDataString(n) : "";
        switch (action)
        {
            case VmAction.Export or VmAction.Import:
                return local.Execute(action);
            case VmAction.List:
                return new VmResult(Vms: ReadArray(Send(HttpMethod.Get, "vms")));
            case VmAction.Describe:
                return new VmResult(Vms: [ReadOne(Send(HttpMethod.Get, vm))]);
            case VmAction.Metrics:
                return new VmResult(Json: Send(HttpMethod.Get, vm + "/metrics"));
            case VmAction.Create c:
                return Message(Send(HttpMethod.Put, "vms/" + Uri.EscapeDataString(c.Request.Name), ApiJson.CreateBody(c.Request)));
            case VmAction.Start:
                return Message(Send(HttpMethod.Put, vm + "/actions", Body(("action_type", "InstanceStart"))));
            case VmAction.RequestPowerOff:
                return Message(Send(HttpMethod.Put, vm + "/actions", Body(("action_type", "SendCtrlAltDel"))));
            case VmAction.Kill:
                return Message(Send(HttpMethod.Put, vm + "/actions", Body(("action_type", "InstanceKill"))));
            case VmAction.Stop s:
                return Message(Send(HttpMethod.Put, vm + "/actions", s.Timeout is { } t
                    ? Body(("action_type", "InstanceStop"), ("timeout_seconds", (long)Math.Ceiling(t.TotalSeconds)))
                    : Body(("action_type", "InstanceStop"))));
            case VmAction.Pause:
                return Message(Send(HttpMethod.Patch, vm + "/vm", Body(("state", "Paused"))));
            case VmAction.Resume:
                return Message(Send(HttpMethod.Patch, vm + "/vm", Body(("state", "Resumed"))));
            case VmAction.Snapshot s:
                return Message(Send(HttpMethod.Put, vm + "/snapshot/create", Body(("snapshot_tag", s.Tag))));
            case VmAction.Restore r:
                return Message(Send(HttpMethod.Put, vm + "/snapshot/load", Body(("snapshot_tag", r.Tag))));
            case VmAction.ListSnapshots:
            {
                using var doc = JsonDocument.Parse(Send(HttpMethod.Get, vm + "/snapshots"));
                return new VmResult(Snapshots: doc.RootElement.EnumerateArray().Select(ApiJson.ReadSnapshot).ToList());
            }
            case VmAction.RemoveSnapshot r:
                return Message(Send(HttpMethod.Delete, $"{vm}/snapshots/{Uri.EscapeDataString(r.Tag)}"));
            case VmAction.ResizeDisk r:
                return Message(Send(HttpMethod.Patch, $"{vm}/drives/{Uri.EscapeDataString(r.DriveId)}", Body(("size_bytes", (long)r.Size))));
            case VmAction.Migrate m:
                return Message(Send(HttpMethod.Put, vm + "/migrate", Body(("destination", m.Destination))));
            case VmAction.Receive r:
                return Message(Send(HttpMethod.Put, vm + "/incoming", r.Timeout is { } wait
                    ? Body(("listen", r.Listen), ("timeout_seconds", (long)Math.Ceiling(wait.TotalSeconds)))
                    : Body(("listen", r.Listen))));
            case VmAction.Remove r:
                return Message(Send(HttpMethod.Delete, vm + (r.Force ? "?force=true" : "")));
            case VmAction.ConfigureMachine m:
                return Message(Send(HttpMethod.Put, vm + "/machine-config", ApiJson.Serialize(new Dictionary<string, object?>
                {
                    ["vcpu_count"] = m.Cpus, ["mem_size_mib"] = m.MemoryMiB,
                })));
            case VmAction.ConfigureBoot b:
                return Message(Send(HttpMethod.Put, vm + "/boot-source", ApiJson.Serialize(ApiJson.BootBody(b.Kernel, b.Initrd, b.Cmdline, b.Firmware))));
            case VmAction.ConfigureDrive d:
                return Message(Send(HttpMethod.Put, $"{vm}/drives/{Uri.EscapeDataString(d.Drive.Id!)}", ApiJson.Serialize(ApiJson.DriveBody(d.Drive))));
            case VmAction.ConfigureNetworkInterface i:
                return Message(Send(HttpMethod.Put, $"{vm}/network-interfaces/{Uri.EscapeDataString(i.Interface.Id)}", ApiJson.Serialize(ApiJson.NicBody(i.Interface))));
            default:
                throw new InvalidOperationException($"action {action.GetType().Name} has no REST request");
        }
    }

    private static string Body(params (string Key, object Value)[] fields) =>
        ApiJson.Serialize(fields.ToDictionary(f => f.Key, f => f.Value));

    private string Send(HttpMethod method, string path, string? json = null)
    {
        (int status, string body) = _http.Send(method, path, json);
        if (status is >= 200 and < 300) return body;
        throw ApiFault.ToException(status, body);
    }

    private static VmResult Message(string body)
    {
        if (body.Length == 0) return VmResult.Done;
        using var doc = JsonDocument.Parse(body);
        return new VmResult(Message: doc.RootElement.TryGetProperty("message", out JsonElement m) ? m.GetString() : null);
    }

    private static List<VmStatus> ReadArray(string body)
    {
        using var doc = JsonDocument.Parse(body);
        return doc.RootElement.EnumerateArray().Select(ApiJson.ReadStatus).ToList();
    }

    private static VmStatus ReadOne(string body)
    {
        using var doc = JsonDocument.Parse(body);
        return ApiJson.ReadStatus(doc.RootElement);
    }

    public void Dispose() => _http.Dispose();
}
