using System.Text;
using System.Text.Json;
using Trapeze.Machine;

namespace Trapeze.Vmm;

/// <summary>
/// Reads and writes <c>vm.json</c>. Reading checks every field and names the first wrong one precisely
/// (<c>vm.json: 'cpus' must be an integer in 1..64</c>); unknown fields are refused, so a misspelt one is not
/// silently ignored.
/// </summary>
public static class VmJson
{
    private static readonly string[] Known =
    [
        "version", "name", "cpus", "memory_mib", "firmware", "kernel", "initrd", "cmdline", "drives",
        "network_interfaces", "devices", "console", "jit", "gc_heap_limit_mib", "stop_timeout_seconds",
    ];

    public static VmDefinition Read(string text, string source)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(text, new JsonDocumentOptions { AllowTrailingCommas = false, CommentHandling = JsonCommentHandling.Skip }); }
        catch (JsonException e) { throw Bad(source, $"not valid JSON ({e.Message})"); }
        using (doc)
        {
            JsonElement root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Bad(source, "expected a JSON object");
            foreach (JsonProperty p in root.EnumerateObject())
                if (System.Array.IndexOf(Known, p.Name) < 0) throw Bad(source, $"unknown field '{p.Name}'");
            if (!root.TryGetProperty("version", out JsonElement v)) throw Bad(source, "no 'version' field");
            int version = Int(source, "version", v, 1, int.MaxValue);
            if (version > VmDefinition.CurrentVersion)
                throw Bad(source, $"version {version} is newer than this trapeze understands ({VmDefinition.CurrentVersion})");
            string name = Str(source, "name", Required(source, root, "name"));
            VmNames.Check(name, $"{source}: 'name'");
            var d = new VmDefinition { Name = name };
            if (Opt(root, "cpus") is { } cpus) d = d with { Cpus = Int(source, "cpus", cpus, 1, MachineConfig.MaxHarts) };
            if (Opt(root, "memory_mib") is { } mem) d = d with { MemoryMiB = (ulong)Int(source, "memory_mib", mem, 1, 1 << 20) };
            if (Opt(root, "firmware") is { } fw) d = d with { Firmware = PathOrKeyword(source, "firmware", fw) };
            if (Opt(root, "kernel") is { } k) d = d with { Kernel = NullablePath(source, "kernel", k) };
            if (Opt(root, "initrd") is { } i) d = d with { Initrd = NullablePath(source, "initrd", i) };
            if (Opt(root, "cmdline") is { } c) d = d with { Cmdline = c.ValueKind == JsonValueKind.Null ? null : Str(source, "cmdline", c) };
            if (Opt(root, "drives") is { } drives) d = d with { Drives = Drives(source, drives) };
            if (Opt(root, "network_interfaces") is { } nics) d = d with { NetworkInterfaces = Nics(source, nics) };
            if (Opt(root, "devices") is { } devices)
            {
                var list = Array(source, "devices", devices).Select((e, n) => Str(source, $"devices[{n}]", e)).ToList();
                foreach (string dev in list) Machine(source, () => VirtioOptions.ParseDevice(dev));
                d = d with { Devices = list };
            }
            if (Opt(root, "console") is { } con && con.ValueKind != JsonValueKind.Null)
            {
                string console = Str(source, "console", con);
                Machine(source, () => VirtioOptions.ParseConsole(console));
                d = d with { Console = console };
            }
            if (Opt(root, "jit") is { } jit)
            {
                if (jit.ValueKind is not (JsonValueKind.True or JsonValueKind.False)) throw Bad(source, "'jit' must be true or false");
                d = d with { Jit = jit.GetBoolean() };
            }
            if (Opt(root, "gc_heap_limit_mib") is { } gc) d = d with { GcHeapLimitMiB = Int(source, "gc_heap_limit_mib", gc, 32, 1 << 20) };
            if (Opt(root, "stop_timeout_seconds") is { } st) d = d with { StopTimeoutSeconds = Int(source, "stop_timeout_seconds", st, 0, 86_400) };
            return d;
        }
    }

    public static string Write(VmDefinition d)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteNumber("version", VmDefinition.CurrentVersion);
            w.WriteString("name", d.Name);
            w.WriteNumber("cpus", d.Cpus);
            w.WriteNumber("memory_mib", d.MemoryMiB);
            w.WriteString("firmware", d.Firmware);
            w.WriteString("kernel", d.Kernel);
            w.WriteString("initrd", d.Initrd);
            w.WriteString("cmdline", d.Cmdline);
            w.WriteStartArray("drives");
            foreach (VmDrive drive in d.Drives)
            {
                w.WriteStartObject();
                w.WriteString("id", drive.Id);
                w.WriteString("path", drive.Path);
                if (drive.Format != null) w.WriteString("format", drive.Format);
                w.WriteBoolean("read_only", drive.ReadOnly);
                if (drive.Serial != null) w.WriteString("serial", drive.Serial);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("network_interfaces");
            foreach (VmNetworkInterface nic in d.NetworkInterfaces)
            {
                w.WriteStartObject();
                w.WriteString("id", nic.Id);
                w.WriteString("backend", nic.Backend);
                w.WriteString("address", nic.Address);
                if (nic.Mac != null) w.WriteString("mac", nic.Mac);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteStartArray("devices");
            foreach (string dev in d.Devices) w.WriteStringValue(dev);
            w.WriteEndArray();
            w.WriteString("console", d.Console);
            w.WriteBoolean("jit", d.Jit);
            w.WriteNumber("gc_heap_limit_mib", d.GcHeapLimitMiB);
            w.WriteNumber("stop_timeout_seconds", d.StopTimeoutSeconds);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray()) + "\n";
    }

    private static IReadOnlyList<VmDrive> Drives(string source, JsonElement e)
    {
        var list = new List<VmDrive>();
        int n = 0;
        foreach (JsonElement item in Array(source, "drives", e))
        {
            string at = $"drives[{n++}]";
            Fields(source, at, item, "id", "path", "format", "read_only", "serial");
            string id = Str(source, $"{at}.id", Required(source, item, "id", at));
            VmNames.CheckDeviceId(id, $"{source}: '{at}.id'");
            if (list.Any(x => x.Id == id)) throw Bad(source, $"'{at}.id': '{id}' is used twice");
            string path = CheckPath(source, $"{at}.path", Str(source, $"{at}.path", Required(source, item, "path", at)));
            string? format = Opt(item, "format") is { ValueKind: not JsonValueKind.Null } f ? Str(source, $"{at}.format", f) : null;
            if (format is not (null or "raw" or "qcow2")) throw Bad(source, $"'{at}.format' must be raw or qcow2, not '{format}'");
            bool ro = Opt(item, "read_only") is { } r && Bool(source, $"{at}.read_only", r);
            string? serial = Opt(item, "serial") is { ValueKind: not JsonValueKind.Null } s ? Str(source, $"{at}.serial", s) : null;
            list.Add(new VmDrive(id, path, format, ro, serial));
        }
        return list;
    }

    private static IReadOnlyList<VmNetworkInterface> Nics(string source, JsonElement e)
    {
        var list = new List<VmNetworkInterface>();
        int n = 0;
        foreach (JsonElement item in Array(source, "network_interfaces", e))
        {
            string at = $"network_interfaces[{n++}]";
            Fields(source, at, item, "id", "backend", "address", "mac");
            string id = Str(source, $"{at}.id", Required(source, item, "id", at));
            VmNames.CheckDeviceId(id, $"{source}: '{at}.id'");
            if (list.Any(x => x.Id == id)) throw Bad(source, $"'{at}.id': '{id}' is used twice");
            var nic = new VmNetworkInterface(id, Str(source, $"{at}.backend", Required(source, item, "backend", at)),
                Str(source, $"{at}.address", Required(source, item, "address", at)),
                Opt(item, "mac") is { ValueKind: not JsonValueKind.Null } m ? Str(source, $"{at}.mac", m) : null);
            Machine(source, () => VmBundle.ToNetConfig(nic));
            list.Add(nic);
        }
        return list;
    }

    private static void Machine(string source, Action check)
    {
        try { check(); }
        catch (MachineConfigException e) { throw Bad(source, e.Message); }
    }

    private static void Fields(string source, string at, JsonElement item, params string[] known)
    {
        if (item.ValueKind != JsonValueKind.Object) throw Bad(source, $"'{at}' must be an object");
        foreach (JsonProperty p in item.EnumerateObject())
            if (System.Array.IndexOf(known, p.Name) < 0) throw Bad(source, $"'{at}': unknown field '{p.Name}'");
    }

    private static JsonElement.ArrayEnumerator Array(string source, string field, JsonElement e) =>
        e.ValueKind == JsonValueKind.Array ? e.EnumerateArray() : throw Bad(source, $"'{field}' must be an array");

    private static JsonElement? Opt(JsonElement obj, string field) => obj.TryGetProperty(field, out JsonElement e) ? e : null;

    private static JsonElement Required(string source, JsonElement obj, string field, string? at = null) =>
        obj.TryGetProperty(field, out JsonElement e) ? e : throw Bad(source, at == null ? $"no '{field}' field" : $"'{at}' has no '{field}' field");

    private static string Str(string source, string field, JsonElement e) =>
        e.ValueKind == JsonValueKind.String ? e.GetString()! : throw Bad(source, $"'{field}' must be a string");

    private static bool Bool(string source, string field, JsonElement e) =>
        e.ValueKind is JsonValueKind.True or JsonValueKind.False ? e.GetBoolean() : throw Bad(source, $"'{field}' must be true or false");

    private static int Int(string source, string field, JsonElement e, int min, int max)
    {
        if (e.ValueKind == JsonValueKind.Number && e.TryGetInt64(out long n) && n >= min && n <= max) return (int)n;
        throw Bad(source, $"'{field}' must be an integer in {min}..{max}, not {e.GetRawText()}");
    }

    private static string? NullablePath(string source, string field, JsonElement e) =>
        e.ValueKind == JsonValueKind.Null ? null : CheckPath(source, field, Str(source, field, e));

    private static string PathOrKeyword(string source, string field, JsonElement e)
    {
        string s = Str(source, field, e);
        return s is VmDefinition.FirmwareOpenSbi or VmDefinition.FirmwareBuiltin or VmDefinition.FirmwareNone ? s : CheckPath(source, field, s);
    }

    /// <summary>A relative path must stay inside the bundle: a bundle from elsewhere must not reach the
    /// user's other files by naming <c>../..</c>.</summary>
    private static string CheckPath(string source, string field, string path)
    {
        if (path.Length == 0) throw Bad(source, $"'{field}' is an empty path");
        if (path.Contains('\0')) throw Bad(source, $"'{field}' contains a NUL character");
        if (!Path.IsPathRooted(path) && path.Split('/').Contains(".."))
            throw Bad(source, $"'{field}': relative path '{path}' leaves the bundle directory");
        return path;
    }

    private static VmException Bad(string source, string message) => VmException.BadRequest($"{source}: {message}");
}
