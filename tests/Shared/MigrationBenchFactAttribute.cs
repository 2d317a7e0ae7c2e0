using Xunit;

namespace Trapeze.Tests.Shared;

/// <summary>A benchmark, not a test: runs only when <see cref="Variable"/> is set (bench/migration.sh sets it).</summary>
public sealed class MigrationBenchFactAttribute : FactAttribute
{
    public const string Variable = "TRAPEZE_MIGRATION_BENCH";

    public MigrationBenchFactAttribute()
    {
        if (string.IsNullOrEmpty(Environment.GetEnvironmentVariable(Variable))) Skip = $"a benchmark: set {Variable}=MiB to run it";
    }
}
