namespace Trapeze.Vmm;

/// <summary>Why an action was refused; the API maps each kind to an HTTP status, the CLI to exit code 2.</summary>
public enum VmErrorKind
{
    /// <summary>The request itself is wrong (bad name, size, vm.json): 400.</summary>
    BadRequest,
    /// <summary>No VM by that name: 404.</summary>
    NotFound,
    /// <summary>The VM is not in a state that allows the action (already running, not running, exists): 409.</summary>
    Conflict,
    /// <summary>The action is part of the set but this build cannot carry it out yet: 501.</summary>
    NotAvailable,
}

/// <summary>An action that cannot be carried out, with a one-line reason for the user.</summary>
public sealed class VmException(VmErrorKind kind, string message) : Exception(message)
{
    public VmErrorKind Kind { get; } = kind;

    public static VmException BadRequest(string message) => new(VmErrorKind.BadRequest, message);
    public static VmException NotFound(string name) => new(VmErrorKind.NotFound, $"no VM named '{name}'");
    public static VmException Conflict(string message) => new(VmErrorKind.Conflict, message);
}
