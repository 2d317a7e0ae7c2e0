namespace Trapeze.Cli;

/// <summary>A command line that cannot be run: reported in one line, exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);
