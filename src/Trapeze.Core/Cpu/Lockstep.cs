using System.Text;
using Trapeze.Core.Mmu;

namespace Trapeze.Core.Cpu;

/// <summary>
/// Lockstep checking of tier 1 against tier 0 on a running guest (<c>--lockstep N</c>). Every Nth run of a
/// translated region is checked: the hart state is saved, the region runs with its RAM writes and device
/// accesses recorded, its result is kept aside and undone, and the interpreter runs the same number of
/// instructions from the saved state with the recorded device reads replayed (devices see each access
/// once). The hart states (all but mip, which devices change meanwhile) and every RAM byte either run
/// wrote must be equal; the interpreter's result is kept. Limits: one hart (another hart's stores could
/// land between the two runs); both runs start from the same TLB contents (page-table A/D updates are
/// recorded and undone like stores, so both walks set them alike); a region run that
/// writes a watched page (HTIF tohost, whose host side answers in memory) is kept unchecked; devices
/// see the first run's accesses only, so device-side effects (interrupts, DMA) are not compared.
/// </summary>
public sealed class LockstepChecker(int every)
{
    /// <summary>Translated region runs per check (1: all).</summary>
    public int Every { get; } = Math.Max(1, every);

    public long RegionRuns, Checks, CheckedInstructions, Skipped;

    /// <summary>The report of the first divergence, once there is one.</summary>
    public string? Divergence { get; private set; }

    /// <summary>Called once, at the first divergence, with the report (e.g. to stop the machine).</summary>
    public Action<string>? OnDivergence { get; set; }

    /// <summary>Disassembles the translated region that starts at a block (set by the layer that knows
    /// how regions are formed); may be null.</summary>
    public Func<Block, ulong, string>? DescribeRegion { get; set; }

    internal readonly Dictionary<ulong, ulong> NewWords = [];
    internal readonly AccessLog Translated = new();
    internal readonly AccessLog Interpreted = new();

    internal bool ShouldCheck() => Divergence == null && RegionRuns++ % Every == 0;

    internal void Report(string text)
    {
        if (Divergence != null) return;
        Divergence = text;
        OnDivergence?.Invoke(text);
    }

    public string Summary =>
        $"lockstep: {Checks} of {RegionRuns} translated region runs checked ({CheckedInstructions} instructions" +
        (Skipped > 0 ? $"; {Skipped} not checkable: they wrote a watched page" : "") + "), " +
        (Divergence == null ? "no divergence" : "DIVERGED");

    internal static string Describe(List<HartStateDifference> diffs, List<string> memory, string? mmio)
    {
        var sb = new StringBuilder();
        foreach (var d in diffs.Take(16)) sb.Append($"  {d.Field}: interpreter 0x{d.Expected:x}, translated 0x{d.Actual:x}\n");
        foreach (var m in memory.Take(16)) sb.Append($"  {m}\n");
        if (mmio != null) sb.Append($"  {mmio}\n");
        return sb.ToString();
    }
}
