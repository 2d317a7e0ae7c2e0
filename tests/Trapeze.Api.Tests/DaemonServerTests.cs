using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Trapeze.Vmm;

namespace Trapeze.Api.Tests;

/// <summary>The daemon over its real Unix socket, for what needs no VM process: create, describe, list,
/// configure, remove, and Firecracker-style faults with their status codes.</summary>
public sealed class DaemonServerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("trapeze-api-").FullName;
    private readonly VmHome _home;
    private readonly IDisposable _server;
    private readonly HttpClient _http;
    private readonly string _kernel;

    public DaemonServerTests()
    {
        _home = new VmHome(Path.Combine(_dir, "home"));
        Directory.CreateDirectory(_home.Root);
        _kernel = Path.Combine(_dir, "Image");
        File.WriteAllBytes(_kernel, [1, 2, 3]);
        _server = ApiHost.Start(DaemonServer.Build(new VmManager(_home), _home.DaemonSocket));
        _http = new HttpClient(new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancel) =>
            {
                var s = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await s.ConnectAsync(new UnixDomainSocketEndPoint(_home.DaemonSocket), cancel);
                return new NetworkStream(s, ownsSocket: true);
            },
        }) { BaseAddress = new Uri("http://localhost/") };
    }

    public void Dispose()
    {
        _http.Dispose();
        _server.Dispose();
        Directory.Delete(_dir, true);
    }

    private (HttpStatusCode, string) Send(HttpMethod method, string path, string? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body != null) request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        using HttpResponseMessage r = _http.Send(request);
        return (r.StatusCode, r.Content.ReadAsStringAsync().Result);
    }

    private string CreateBody => JsonSerializer.Serialize(new
    {
        machine_config = new { vcpu_count = 2, mem_size_mib = 128 },
        boot_source = new { kernel_image_path = _kernel, boot_args = "console=ttyS0", firmware = "builtin" },
        drives = new[] { new { drive_id = "rootfs", size_mib = 8 } },
    });

    [Fact]
    public void Create_describe_list_configure_remove()
    {
        Assert.Equal(HttpStatusCode.OK, Send(HttpMethod.Put, "vms/one", CreateBody).Item1);
        var (status, body) = Send(HttpMethod.Get, "vms/one");
        Assert.Equal(HttpStatusCode.OK, status);
        using (var doc = JsonDocument.Parse(body))
        {
            Assert.Equal("stopped", doc.RootElement.GetProperty("state").GetString());
            Assert.Equal(2, doc.RootElement.GetProperty("vcpu_count").GetInt32());
            Assert.Equal(128, doc.RootElement.GetProperty("mem_size_mib").GetInt32());
        }
        Assert.Equal(HttpStatusCode.NoContent, Send(HttpMethod.Put, "vms/one/machine-config", """{"vcpu_count": 4}""").Item1);
        Assert.Equal(HttpStatusCode.NoContent, Send(HttpMethod.Put, "vms/one/drives/data", """{"drive_id": "data", "size_mib": 4, "format": "raw"}""").Item1);
        Assert.Equal(HttpStatusCode.NoContent, Send(HttpMethod.Put, "vms/one/network-interfaces/eth0", """{"iface_id": "eth0", "host_dev_name": "tap7"}""").Item1);
        VmDefinition d = _home.Open("one").Definition;
        Assert.Equal(4, d.Cpus);
        Assert.Equal(["rootfs", "data"], d.Drives.Select(x => x.Id));
        Assert.Equal("tap7", d.NetworkInterfaces.Single().Address);
        (status, body) = Send(HttpMethod.Get, "vms");
        Assert.Equal(HttpStatusCode.OK, status);
        using (var doc = JsonDocument.Parse(body)) Assert.Equal("one", doc.RootElement.EnumerateArray().Single().GetProperty("name").GetString());
        Assert.Equal(HttpStatusCode.OK, Send(HttpMethod.Delete, "vms/one").Item1);
        Assert.Equal("[]", Send(HttpMethod.Get, "vms").Item2);
    }

    [Theory]
    [InlineData("PUT", "vms/nope/actions", """{"action_type": "InstanceStart"}""", 404, "no VM named 'nope'")]
    [InlineData("GET", "vms/nope/metrics", null, 404, "no VM named 'nope'")]
    [InlineData("DELETE", "vms/nope", null, 404, "no VM named 'nope'")]
    [InlineData("PUT", "vms/one", "{", 400, "not valid JSON")]
    [InlineData("PUT", "vms/one", """{"machine_config": {"vcpu_count": 0}}""", 400, "'vcpu_count' must be an integer in 1..64")]
    [InlineData("PUT", "vms/one", """{"machine_config": {"vcpus": 2}}""", 400, "unknown field 'vcpus'")]
    [InlineData("PUT", "vms/one", """{"boot_source": {"kernel_image_path": "/no/such"}}""", 400, "cannot read kernel '/no/such'")]
    [InlineData("PUT", "vms/bad..name!", "{}", 400, "is not 1 to 48 letters")]
    public void Faults_have_a_status_and_a_message(string method, string path, string? body, int code, string message)
    {
        var (status, text) = Send(new HttpMethod(method), path, body);
        Assert.Equal(code, (int)status);
        using var doc = JsonDocument.Parse(text);
        Assert.Contains(message, doc.RootElement.GetProperty("fault_message").GetString());
    }

    [Fact]
    public void Conflicts_are_409_and_unknown_actions_400()
    {
        Assert.Equal(HttpStatusCode.OK, Send(HttpMethod.Put, "vms/one", CreateBody).Item1);
        Assert.Equal(HttpStatusCode.Conflict, Send(HttpMethod.Put, "vms/one", CreateBody).Item1);
        Assert.Equal(HttpStatusCode.Conflict, Send(HttpMethod.Put, "vms/one/actions", """{"action_type": "InstanceStop"}""").Item1);
        Assert.Equal(HttpStatusCode.Conflict, Send(HttpMethod.Get, "vms/one/metrics").Item1);
        Assert.Equal(HttpStatusCode.BadRequest, Send(HttpMethod.Put, "vms/one/actions", """{"action_type": "Reboot"}""").Item1);
        Assert.Equal(HttpStatusCode.BadRequest, Send(HttpMethod.Patch, "vms/one/vm", """{"state": "Sleeping"}""").Item1);
        Assert.Equal(HttpStatusCode.Conflict, Send(HttpMethod.Put, "vms/one/snapshot/create", """{"snapshot_tag": "t"}""").Item1);
        Assert.Equal(HttpStatusCode.NotFound, Send(HttpMethod.Put, "vms/one/snapshot/load", """{"snapshot_tag": "t"}""").Item1);
        Assert.Equal(HttpStatusCode.BadRequest, Send(HttpMethod.Put, "vms/one/snapshot/load", """{"snapshot_tag": "../t"}""").Item1);
    }

    [Fact]
    public void The_document_is_served()
    {
        Assert.Contains("openapi: 3.0.3", Send(HttpMethod.Get, "openapi.yaml").Item2);
    }
}
