namespace Trapeze.Vmm;

/// <summary>What a VM name and a device id may be: a name becomes a directory and, in the API, a path
/// segment, so it is kept to letters, digits and <c>-_.</c>.</summary>
public static class VmNames
{
    public const int MaxLength = 48;

    public static void Check(string name, string what = "VM name")
    {
        if (!IsValid(name))
            throw VmException.BadRequest($"{what} '{name}' is not 1 to {MaxLength} letters, digits, '-', '_' or '.', starting with a letter or digit");
    }

    public static bool IsValid(string name) =>
        name.Length is > 0 and <= MaxLength && char.IsAsciiLetterOrDigit(name[0])
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    public static void CheckDeviceId(string id, string what) => Check(id, what);
}
