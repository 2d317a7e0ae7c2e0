using System.Globalization;
using System.Text.Json;
using Trapeze.Vmm;

namespace Trapeze.Api;

/// <summary>
/// The JSON bodies of the REST API, both ways: what the daemon reads into actions and what the CLI, as the
/// daemon's client, writes from them. Field names follow Firecracker's (<c>vcpu_count</c>,
/// <c>kernel_image_path</c>, <c>drive_id</c>, <c>action_type</c>...). A wrong body is a 400 naming the field.
/// </summary>
public static class ApiJson
{
    // ---------------------------------------------------------------- reading requests

    public static JsonElement Parse(string body)
    {
        if (string.IsNullOrWhiteSpace(body)) return JsonDocument.Parse("{}").RootElement.Clone();
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw VmException.BadRequest("the request body must be a JSON object");
            return doc.RootElement.Clone();
        }
        catch (JsonException e) { throw VmException.BadRequest($"the request body is not valid JSON: {e.Message}"); }
    }

    public static void Fields(JsonElement o, string what, params string[] known)
    {
        if (o.ValueKind != JsonValueKind.Object) throw VmException.BadRequest($"{what} must be a JSON object");
        foreach (JsonProperty p in o.EnumerateObject())
            if (System.Array.IndexOf(known, p.Name) < 0) throw VmException.BadRequest($"{what}: unknown field '{p.Name}'");
    }

    public static string? Str(JsonElement o, string field)
    {
        if (!o.TryGetProperty(field, out JsonElement e) || e.ValueKind == JsonValueKind.Null) return null;
        return e.ValueKind == JsonValueKind.String ? e.GetString() : throw VmException.BadRequest($"'{field}' must be a string");
    }

    public static long? Int(JsonElement o, string field, long min, long max)
    {
        if (!o.TryGetProperty(field, out JsonElement e) || e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out long n) && n >= min && n <= max) return n;
        throw VmException.BadRequest($"'{field}' must be an integer in {min}..{max}, not {e.GetRawText()}");
    }

    public static bool? Bool(JsonElement o, string field)
    {
        if (!o.TryGetProperty(field, out JsonElement e) || e.ValueKind == JsonValueKind.Null) return null;
        return e.ValueKind is JsonValueKind.True or JsonValueKind.False ? e.GetBoolean() : throw VmException.BadRequest($"'{field}' must be true or false");
    }

    public static IEnumerable<JsonElement> Items(JsonElement o, string field)
    {
        if (!o.TryGetProperty(field, out JsonElement e) || e.ValueKind == JsonValueKind.Null) return [];
        return e.ValueKind == JsonValueKind.Array ? e.EnumerateArray().ToList() : throw VmException.BadRequest($"'{field}' must be an array");
    }

    /// <summary>PUT /vms/{name}: the whole VM in one body, each part shaped as its own endpoint's body.</summary>
    public static VmCreateRequest ReadCreate(string name, JsonElement body)
    {
        Fields(body, "the VM", "machine_config", "boot_source", "drives", "network_interfaces", "devices", "console", "jit", "gc_heap_limit_mib", "stop_timeout_seconds");
        var r = new VmCreateRequest { Name = name };
        if (body.TryGetProperty("machine_config", out JsonElement mc))
        {
            var (cpus, mem) = ReadMachineConfig(mc);
            r = r with { Cpus = cpus ?? r.Cpus, MemoryMiB = mem ?? r.MemoryMiB };
        }
        if (body.TryGetProperty("boot_source", out JsonElement bs))
        {
            var b = ReadBootSource(name, bs);
            r = r with { Kernel = b.Kernel, Initrd = b.Initrd, Cmdline = b.Cmdline, Firmware = b.Firmware ?? r.Firmware };
        }
        r = r with
        {
            Disks = Items(body, "drives").Select(d => ReadDrive(null, d)).ToList(),
            NetworkInterfaces = Items(body, "network_interfaces").Select(n => ReadNetworkInterface(null, n)).ToList(),
            Devices = Items(body, "devices").Select(d => d.ValueKind == JsonValueKind.String ? d.GetString()! : throw VmException.BadRequest("'devices' must hold strings")).ToList(),
            Console = Str(body, "console"),
            Jit = Bool(body, "jit") ?? true,
            GcHeapLimitMiB = (int)(Int(body, "gc_heap_limit_mib", 32, 1 << 20) ?? VmDefinition.DefaultGcHeapLimitMiB),
            StopTimeoutSeconds = (int)(Int(body, "stop_timeout_seconds", 0, 86_400) ?? VmDefinition.DefaultStopTimeoutSeconds),
        };
        return r;
    }

    public static (int? Cpus, ulong? MemoryMiB) ReadMachineConfig(JsonElement o)
    {
        Fields(o, "machine-config", "vcpu_count", "mem_size_mib");
        return ((int?)Int(o, "vcpu_count", 1, 64), (ulong?)Int(o, "mem_size_mib", 1, 1 << 20));
    }

    public static VmAction.ConfigureBoot ReadBootSource(string name, JsonElement o)
    {
        Fields(o, "boot-source", "kernel_image_path", "initrd_path", "boot_args", "firmware");
        return new VmAction.ConfigureBoot(name, Str(o, "kernel_image_path"), Str(o, "initrd_path"), Str(o, "boot_args"), Str(o, "firmware"));
    }

    /// <summary>A drive: <c>path_on_host</c> for an existing image, or <c>size_bytes</c>/<c>size_mib</c> for a
    /// new one made in the bundle.</summary>
    public static VmDiskRequest ReadDrive(string? pathId, JsonElement o)
    {
        Fields(o, "drive", "drive_id", "path_on_host", "size_bytes", "size_mib", "format", "is_read_only", "serial");
        string? id = Str(o, "drive_id") ?? pathId;
        if (pathId != null && id != pathId) throw VmException.BadRequest($"drive_id '{id}' differs from the path's '{pathId}'");
        ulong? size = (ulong?)Int(o, "size_bytes", 1, long.MaxValue);
        if (Int(o, "size_mib", 1, 1L << 40) is { } mib)
        {
            if (size != null) throw VmException.BadRequest("give size_bytes or size_mib, not both");
            size = (ulong)mib << 20;
        }
        return new VmDiskRequest(id, Str(o, "path_on_host"), size, Str(o, "format"), Bool(o, "is_read_only") ?? false, Str(o, "serial"));
    }

    /// <summary>A NIC: <c>host_dev_name</c> names a TAP interface (Firecracker's only kind); <c>backend</c>
    /// <c>socket-listen</c>/<c>socket-connect</c> with <c>address</c> HOST:PORT joins VMs to each other.</summary>
    public static VmNetworkInterface ReadNetworkInterface(string? pathId, JsonElement o)
    {
        Fields(o, "network interface", "iface_id", "host_dev_name", "backend", "address", "guest_mac");
        string id = Str(o, "iface_id") ?? pathId ?? throw VmException.BadRequest("network interface: no iface_id");
        if (pathId != null && id != pathId) throw VmException.BadRequest($"iface_id '{id}' differs from the path's '{pathId}'");
        string backend = Str(o, "backend") ?? "tap";
        string address = (backend == "tap" ? Str(o, "host_dev_name") ?? Str(o, "address") : Str(o, "address"))
            ?? throw VmException.BadRequest($"network interface '{id}': no {(backend == "tap" ? "host_dev_name" : "address")}");
        return new VmNetworkInterface(id, backend, address, Str(o, "guest_mac"));
    }

    // ---------------------------------------------------------------- writing requests (the CLI as client)

    public static string CreateBody(VmCreateRequest r) => Serialize(new Dictionary<string, object?>
    {
        ["machine_config"] = new Dictionary<string, object?> { ["vcpu_count"] = r.Cpus, ["mem_size_mib"] = r.MemoryMiB },
        ["boot_source"] = BootBody(r.Kernel, r.Initrd, r.Cmdline, r.Firmware),
        ["drives"] = r.Disks.Select(DriveBody).ToList(),
        ["network_interfaces"] = r.NetworkInterfaces.Select(NicBody).ToList(),
        ["devices"] = r.Devices,
        ["console"] = r.Console,
        ["jit"] = r.Jit,
        ["gc_heap_limit_mib"] = r.GcHeapLimitMiB,
        ["stop_timeout_seconds"] = r.StopTimeoutSeconds,
    });

    /// <summary>Paths are made absolute here: the daemon's working directory is not the caller's.</summary>
    public static Dictionary<string, object?> BootBody(string? kernel, string? initrd, string? cmdline, string? firmware) => new()
    {
        ["kernel_image_path"] = Full(kernel),
        ["initrd_path"] = Full(initrd),
        ["boot_args"] = cmdline,
        ["firmware"] = firmware is null or VmDefinition.FirmwareOpenSbi or VmDefinition.FirmwareBuiltin or VmDefinition.FirmwareNone ? firmware : Full(firmware),
    };

    public static Dictionary<string, object?> DriveBody(VmDiskRequest d) => new()
    {
        ["drive_id"] = d.Id,
        ["path_on_host"] = Full(d.Path),
        ["size_bytes"] = d.Size,
        ["format"] = d.Format,
        ["is_read_only"] = d.ReadOnly,
        ["serial"] = d.Serial,
    };

    public static Dictionary<string, object?> NicBody(VmNetworkInterface n) => new()
    {
        ["iface_id"] = n.Id,
        ["backend"] = n.Backend,
        ["address"] = n.Address,
        ["guest_mac"] = n.Mac,
    };

    private static string? Full(string? path) => path == null ? null : Path.GetFullPath(path);

    public static string Serialize(object value) => JsonSerializer.Serialize(value, ApiFault.Options);

    // ---------------------------------------------------------------- VM states

    public static Dictionary<string, object?> StatusBody(VmStatus s) => new()
    {
        ["name"] = s.Name,
        ["state"] = s.State,
        ["vcpu_count"] = s.Cpus,
        ["mem_size_mib"] = s.MemoryMiB,
        ["pid"] = s.Pid,
        ["started_at"] = s.StartedAt?.ToString("o", CultureInfo.InvariantCulture),
        ["path"] = s.Path,
    };

    public static Dictionary<string, object?> SnapshotBody(VmSnapshotInfo s) => new()
    {
        ["snapshot_tag"] = s.Tag,
        ["created_at"] = s.Created.ToString("o", CultureInfo.InvariantCulture),
        ["state_bytes"] = s.StateBytes,
        ["disk_bytes"] = s.DiskBytes,
        ["drives"] = s.Drives,
    };

    public static VmSnapshotInfo ReadSnapshot(JsonElement e) => new(
        e.GetProperty("snapshot_tag").GetString()!,
        DateTimeOffset.Parse(e.GetProperty("created_at").GetString()!, CultureInfo.InvariantCulture),
        e.GetProperty("state_bytes").GetInt64(),
        e.GetProperty("disk_bytes").GetInt64(),
        e.GetProperty("drives").EnumerateArray().Select(d => d.GetString()!).ToList());

    public static VmStatus ReadStatus(JsonElement e) => new(
        e.GetProperty("name").GetString()!,
        e.GetProperty("state").GetString()!,
        e.GetProperty("vcpu_count").GetInt32(),
        e.GetProperty("mem_size_mib").GetUInt64(),
        e.TryGetProperty("pid", out JsonElement pid) && pid.ValueKind == JsonValueKind.Number ? pid.GetInt32() : null,
        e.TryGetProperty("started_at", out JsonElement st) && st.ValueKind == JsonValueKind.String
            ? DateTimeOffset.Parse(st.GetString()!, CultureInfo.InvariantCulture) : null,
        e.GetProperty("path").GetString()!);
}
