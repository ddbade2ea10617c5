using System.CommandLine;

namespace TeleGuard.Backup.Cli;

/// <summary>A command whose <c>--help</c> ends with a few example invocations.</summary>
public sealed class CommandWithExamples(string name, string description, params string[] examples) : Command(name, description)
{
    public IReadOnlyList<string> Examples { get; } = examples;
}
