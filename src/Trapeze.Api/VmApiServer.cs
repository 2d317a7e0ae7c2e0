using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Trapeze.Vmm;

namespace Trapeze.Api;

/// <summary>
/// The control API of one VM process, on the bundle's <c>api.sock</c>: the daemon and the CLI reach a running
/// machine only through it. <c>GET /vm</c>, <c>PATCH /vm</c>, <c>PUT /actions</c>, <c>PUT /snapshot/create</c>, <c>GET /metrics</c>,
/// <c>PUT /migrate</c>.
/// </summary>
public static class VmApiServer
{
    public static IDisposable Serve(IVmProcessControl vm, string socketPath)
    {
        WebApplication app = ApiHost.Build(socketPath);
        app.MapGet("/vm", () => ApiHost.Json(ApiJson.Serialize(new Dictionary<string, object>
        {
            ["name"] = vm.Name, ["state"] = vm.State, ["pid"] = Environment.ProcessId, ["started_at"] = vm.StartedAt,
        })));
        app.MapGet("/metrics", () => ApiHost.Json(vm.MetricsJson()));
        app.MapMethods("/vm", ["PATCH"], (Func<HttpContext, Task<IResult>>)(c => ApiHost.Handle(c, body =>
        {
            JsonElement o = ApiJson.Parse(body);
            ApiJson.Fields(o, "vm", "state");
            vm.SetPaused(ApiJson.Str(o, "state") switch
            {
                "Paused" => true,
                "Resumed" => false,
                var s => throw VmException.BadRequest($"state '{s}' is not Paused or Resumed"),
            });
            return Results.NoContent();
        })));
        app.MapPut("/snapshot/create", (Func<HttpContext, Task<IResult>>)(c => ApiHost.Handle(c, body =>
        {
            JsonElement o = ApiJson.Parse(body);
            ApiJson.Fields(o, "snapshot", "snapshot_path", "snapshot_tag");
            // snapshot_tag: the bundle's snapshot, disks included; snapshot_path: the machine alone, to that file.
            if (ApiJson.Str(o, "snapshot_tag") is { } tag) vm.SaveBundleSnapshot(tag);
            else vm.SaveSnapshot(ApiJson.Str(o, "snapshot_path") ?? throw VmException.BadRequest("no snapshot_tag or snapshot_path"));
            return Results.NoContent();
        })));
        app.MapPut("/migrate", (Func<HttpContext, Task<IResult>>)(c => ApiHost.Handle(c, body =>
        {
            JsonElement o = ApiJson.Parse(body);
            ApiJson.Fields(o, "migrate", "destination");
            return ApiHost.Json(vm.Migrate(ApiJson.Str(o, "destination") ?? throw VmException.BadRequest("no destination")));
        })));
        app.MapPut("/actions", (Func<HttpContext, Task<IResult>>)(c => ApiHost.Handle(c, body =>
        {
            JsonElement o = ApiJson.Parse(body);
            ApiJson.Fields(o, "action", "action_type");
            switch (ApiJson.Str(o, "action_type"))
            {
                case VmProcessActions.PowerOffRequest: vm.RequestPowerOff(); break;
                case VmProcessActions.ForceOff: vm.ForceOff(); break;
                case var s: throw VmException.BadRequest($"action_type '{s}' is not {VmProcessActions.PowerOffRequest} or {VmProcessActions.ForceOff}");
            }
            return Results.NoContent();
        })));
        return ApiHost.Start(app);
    }
}
