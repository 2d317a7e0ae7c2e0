using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Trapeze.Vmm;

namespace Trapeze.Api.Tests;

/// <summary>docs/api/openapi.yaml describes exactly the routes the daemon maps: each (path, method) the daemon
/// serves is in the document, and the document promises nothing the daemon does not serve.</summary>
public sealed partial class OpenApiDocumentTests
{
    [Fact]
    public void Every_route_is_documented_and_every_documented_route_exists()
    {
        string dir = Directory.CreateTempSubdirectory("trapeze-api-").FullName;
        try
        {
            WebApplication app = DaemonServer.Build(new VmManager(new VmHome(dir)), Path.Combine(dir, "unused.sock"));
            var mapped = ((IEndpointRouteBuilder)app).DataSources
                .SelectMany(s => s.Endpoints)
                .OfType<RouteEndpoint>()
                .SelectMany(e => e.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()!.HttpMethods
                    .Select(m => $"{m} {e.RoutePattern.RawText}"))
                .ToHashSet();
            var documented = Documented(DaemonServer.OpenApiDocument());
            Assert.NotEmpty(mapped);
            Assert.Empty(mapped.Except(documented));
            Assert.Empty(documented.Except(mapped));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void The_served_document_is_the_one_in_docs()
    {
        string root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Trapeze.slnx"))) root = Path.GetDirectoryName(root)!;
        Assert.Equal(File.ReadAllText(Path.Combine(root, "docs", "api", "openapi.yaml")), DaemonServer.OpenApiDocument());
    }

    [Fact]
    public void The_documented_action_types_are_the_ones_taken()
    {
        Match m = ActionEnum().Match(DaemonServer.OpenApiDocument());
        Assert.True(m.Success);
        Assert.Equal(DaemonServer.ActionTypes, m.Groups[1].Value.Split(',', StringSplitOptions.TrimEntries));
    }

    /// <summary>"METHOD /path" for each operation under <c>paths:</c> (two-space paths, four-space methods).</summary>
    private static HashSet<string> Documented(string yaml)
    {
        var set = new HashSet<string>();
        string? path = null;
        bool inPaths = false;
        foreach (string line in yaml.Split('\n'))
        {
            if (line.StartsWith("paths:", StringComparison.Ordinal)) { inPaths = true; continue; }
            if (inPaths && line.Length > 0 && !char.IsWhiteSpace(line[0])) inPaths = false;
            if (!inPaths) continue;
            if (PathLine().Match(line) is { Success: true } p) path = p.Groups[1].Value;
            else if (MethodLine().Match(line) is { Success: true } m && path != null) set.Add($"{m.Groups[1].Value.ToUpperInvariant()} {path}");
        }
        return set;
    }

    [GeneratedRegex(@"^  (/\S*):\s*$")]
    private static partial Regex PathLine();

    [GeneratedRegex(@"^    (get|put|patch|delete|post):")]
    private static partial Regex MethodLine();

    [GeneratedRegex(@"action_type: \{ type: string, enum: \[([^\]]*)\]")]
    private static partial Regex ActionEnum();
}
