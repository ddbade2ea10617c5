using System.CommandLine;

namespace TeleGuard.Backup.Cli;

/// <summary>A command whose <c>--help</c> ends with a few example invocations.</summary>
internal sealed class CommandWithExamples(string name, string description, params string[] examples) : Command(name, description)
{
    public IReadOnlyList<string> Examples { get; } = examples;
}
