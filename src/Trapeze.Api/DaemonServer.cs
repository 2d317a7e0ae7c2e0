using System.Reflection;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Trapeze.Vmm;

namespace Trapeze.Api;

/// <summary>
/// <c>trapezed</c>: the REST API over every VM of a <see cref="VmHome"/>, on <c>$TRAPEZE_HOME/trapezed.sock</c>
/// (mode 0600: whoever can connect can run code as this user). Endpoints follow Firecracker's, scoped per VM
/// under <c>/vms/{name}</c>; each only builds a <see cref="VmAction"/> for the <see cref="VmManager"/>, which
/// runs every VM in a process of its own. docs/api/openapi.yaml describes them (served at /openapi.yaml).
/// </summary>
public static class DaemonServer
{
    public static WebApplication Build(VmManager manager, string socketPath)
    {
        WebApplication app = ApiHost.Build(socketPath);
        app.MapGet("/openapi.yaml", () => Results.Text(OpenApiDocument(), "application/yaml"));
        app.MapGet("/vms", () => Run(manager, () => new VmAction.List(), r =>
            ApiHost.Json(ApiJson.Serialize(r.Vms!.Select(ApiJson.StatusBody).ToList()))));
        app.MapGet("/vms/{name}", (string name) => Run(manager, () => new VmAction.Describe(name), r =>
            ApiHost.Json(ApiJson.Serialize(ApiJson.StatusBody(r.Vms![0])))));
        app.MapGet("/vms/{name}/metrics", (string name) => Run(manager, () => new VmAction.Metrics(name), r => ApiHost.Json(r.Json!)));
        Map(app, manager, "PUT", "/vms/{name}", (c, body) => new VmAction.Create(ApiJson.ReadCreate(Name(c), ApiJson.Parse(body))));
        Map(app, manager, "DELETE", "/vms/{name}", (c, _) =>
            new VmAction.Remove(Name(c), c.Request.Query["force"].ToString() is "true" or "1"));
        Map(app, manager, "PUT", "/vms/{name}/machine-config", (c, body) =>
        {
            var (cpus, mem) = ApiJson.ReadMachineConfig(ApiJson.Parse(body));
            return new VmAction.ConfigureMachine(Name(c), cpus, mem);
        });
        Map(app, manager, "PUT", "/vms/{name}/boot-source", (c, body) => ApiJson.ReadBootSource(Name(c), ApiJson.Parse(body)));
        Map(app, manager, "PUT", "/vms/{name}/drives/{id}", (c, body) =>
            new VmAction.ConfigureDrive(Name(c), ApiJson.ReadDrive(Id(c), ApiJson.Parse(body))));
        Map(app, manager, "PATCH", "/vms/{name}/drives/{id}", (c, body) =>
        {
            JsonElement o = ApiJson.Parse(body);
            VmDiskRequest d = ApiJson.ReadDrive(Id(c), o);
            if (d.Size is not { } size || d.Path != null) throw VmException.BadRequest("PATCH drives: give the new size_bytes or size_mib (and nothing else)");
            return new VmAction.ResizeDisk(Name(c), Id(c), size);
        });
        Map(app, manager, "PUT", "/vms/{name}/network-interfaces/{id}", (c, body) =>
            new VmAction.ConfigureNetworkInterface(Name(c), ApiJson.ReadNetworkInterface(Id(c), ApiJson.Parse(body))));
        Map(app, manager, "PUT", "/vms/{name}/actions", (c, body) => ReadAction(Name(c), ApiJson.Parse(body)));
        Map(app, manager, "PATCH", "/vms/{name}/vm", (c, body) =>
        {
            JsonElement o = ApiJson.Parse(body);
            ApiJson.Fields(o, "vm", "state");
            return ApiJson.Str(o, "state") switch
            {
                "Paused" => new VmAction.Pause(Name(c)),
                "Resumed" => new VmAction.Resume(Name(c)),
                var s => throw VmException.BadRequest($"state '{s}' is not Paused or Resumed"),
            };
        });
        Map(app, manager, "PUT", "/vms/{name}/snapshot/create", (c, body) => new VmAction.Snapshot(Name(c), Tag(ApiJson.Parse(body))));
        Map(app, manager, "PUT", "/vms/{name}/snapshot/load", (c, body) => new VmAction.Restore(Name(c), Tag(ApiJson.Parse(body))));
        Map(app, manager, "PUT", "/vms/{name}/migrate", (c, body) =>
        {
            JsonElement o = ApiJson.Parse(body);
            ApiJson.Fields(o, "migrate", "destination");
            return new VmAction.Migrate(Name(c), ApiJson.Str(o, "destination") ?? throw VmException.BadRequest("migrate: no destination"));
        });
        Map(app, manager, "PUT", "/vms/{name}/incoming", (c, body) =>
        {
            JsonElement o = ApiJson.Parse(body);
            ApiJson.Fields(o, "incoming", "listen", "timeout_seconds");
            long? timeout = ApiJson.Int(o, "timeout_seconds", 1, 86_400);
            return new VmAction.Receive(Name(c), ApiJson.Str(o, "listen") ?? throw VmException.BadRequest("incoming: no listen address"),
                timeout is { } t ? TimeSpan.FromSeconds(t) : null);
        });
        app.MapGet("/vms/{name}/snapshots", (string name) => Run(manager, () => new VmAction.ListSnapshots(name), r =>
            ApiHost.Json(ApiJson.Serialize(r.Snapshots!.Select(ApiJson.SnapshotBody).ToList()))));
        Map(app, manager, "DELETE", "/vms/{name}/snapshots/{tag}", (c, _) =>
        {
            string tag = (string)c.Request.RouteValues["tag"]!;
            VmNames.CheckDeviceId(tag, "snapshot tag");
            return new VmAction.RemoveSnapshot(Name(c), tag);
        });
        return app;
    }

    /// <summary>The <c>action_type</c>s of <c>PUT /vms/{name}/actions</c>.</summary>
    public static readonly string[] ActionTypes = ["InstanceStart", "SendCtrlAltDel", "InstanceStop", "InstanceKill"];

    private static VmAction ReadAction(string name, JsonElement o)
    {
        ApiJson.Fields(o, "action", "action_type", "timeout_seconds");
        long? timeout = ApiJson.Int(o, "timeout_seconds", 0, 86_400);
        return ApiJson.Str(o, "action_type") switch
        {
            "InstanceStart" => new VmAction.Start(name),
            "SendCtrlAltDel" => new VmAction.RequestPowerOff(name),
            "InstanceStop" => new VmAction.Stop(name, timeout is { } t ? TimeSpan.FromSeconds(t) : null),
            "InstanceKill" => new VmAction.Kill(name),
            var s => throw VmException.BadRequest($"action_type '{s}' is not one of {string.Join(", ", ActionTypes)}"),
        };
    }

    private static string Tag(JsonElement o)
    {
        ApiJson.Fields(o, "snapshot", "snapshot_tag");
        string tag = ApiJson.Str(o, "snapshot_tag") ?? "default";
        VmNames.CheckDeviceId(tag, "snapshot_tag");
        return tag;
    }

    private static string Name(HttpContext c) => (string)c.Request.RouteValues["name"]!;
    private static string Id(HttpContext c) => (string)c.Request.RouteValues["id"]!;

    private static void Map(WebApplication app, VmManager manager, string method, string pattern, Func<HttpContext, string, VmAction> build) =>
        app.MapMethods(pattern, [method], (Func<HttpContext, Task<IResult>>)(c => ApiHost.Handle(c, body => Result(manager.Execute(build(c, body))))));

    private static Task<IResult> Run(VmManager manager, Func<VmAction> build, Func<VmResult, IResult> answer) =>
        Task.Run(() =>
        {
            try { return answer(manager.Execute(build())); }
            catch (VmException e) { return ApiHost.Fault(ApiFault.StatusCode(e.Kind), e.Message); }
        });

    private static IResult Result(VmResult r) =>
        r.Json != null ? ApiHost.Json(r.Json)
        : r.Message != null ? ApiHost.Json(ApiJson.Serialize(new Dictionary<string, string> { ["message"] = r.Message }))
        : Results.NoContent();

    public static string OpenApiDocument()
    {
        using Stream s = Assembly.GetExecutingAssembly().GetManifestResourceStream("openapi.yaml")
            ?? throw new InvalidOperationException("the OpenAPI document is not embedded");
        using var reader = new StreamReader(s);
        return reader.ReadToEnd();
    }

    /// <summary>Serves until <paramref name="stop"/> fires. Refuses to start beside a daemon that answers;
    /// a socket left by one that died is replaced.</summary>
    public static int Serve(VmHome home, VmProcessLauncher launcher, CancellationToken stop)
    {
        Directory.CreateDirectory(home.Root);
        Native.MakeCreatedFilesPrivate();
        using FileStream? held = ProcessLock.TryAcquire(Path.Combine(home.Root, "trapezed.lock"))
            ?? throw VmException.Conflict($"a daemon already serves {home.Root}");
        File.Delete(home.DaemonSocket);
        WebApplication app = Build(new VmManager(home, launcher), home.DaemonSocket);
        using (ApiHost.Start(app))
        {
            stop.WaitHandle.WaitOne();
        }
        File.Delete(home.DaemonSocket);
        return 0;
    }
}
