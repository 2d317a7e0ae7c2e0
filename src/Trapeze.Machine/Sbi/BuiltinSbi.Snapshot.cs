using System.Collections.Immutable;

namespace Trapeze.Machine.Sbi;

/// <summary>What a snapshot keeps of the built-in SBI: each hart's HSM state. Everything else it serves is
/// either in the harts (stimecmp, SSIP, the parked flag) or a statistic.</summary>
public sealed record BuiltinSbiState(ImmutableArray<HsmState> Harts);

public sealed partial class BuiltinSbi
{
    /// <summary>Captures the HSM states. On a paused machine every hart is STARTED or STOPPED: the transient
    /// states live only inside a call, and a pause finishes the calls in progress.</summary>
    public BuiltinSbiState SaveState()
    {
        var states = new HsmState[_hsm.Length];
        for (int i = 0; i < states.Length; i++) states[i] = StateOf(i);
        return new BuiltinSbiState([.. states]);
    }

    /// <summary>Puts the HSM states back. Only STARTED and STOPPED are accepted, and a STOPPED hart must be
    /// parked (the harts are restored first), or a later hart_start would wait for a hart that never parks.</summary>
    public void RestoreState(BuiltinSbiState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Harts.Length != _hsm.Length)
            throw new ArgumentException($"SBI state for {state.Harts.Length} harts, not {_hsm.Length}");
        for (int i = 0; i < _hsm.Length; i++)
        {
            HsmState s = state.Harts[i];
            if (s is not (HsmState.Started or HsmState.Stopped))
                throw new ArgumentException($"hart {i}: HSM state {s} cannot be restored (only STARTED or STOPPED)");
            if ((s == HsmState.Stopped) != _harts[i].IsParked)
                throw new ArgumentException($"hart {i}: HSM state {s} does not agree with the hart being {(_harts[i].IsParked ? "" : "not ")}parked");
        }
        for (int i = 0; i < _hsm.Length; i++) Volatile.Write(ref _hsm[i], (int)state.Harts[i]);
    }
}
