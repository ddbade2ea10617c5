using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;

namespace TeleGuard.Backup.Cli;

/// <summary>The standard <c>--help</c>, then the command's examples; the root's help also lists the exit codes.</summary>
public sealed class HelpWithExamplesAction(HelpAction standard, string rootSection) : SynchronousCommandLineAction
{
    public override int Invoke(ParseResult parseResult)
    {
        standard.Invoke(parseResult);
        var output = parseResult.InvocationConfiguration.Output;
        switch (parseResult.CommandResult.Command)
        {
            case RootCommand:
                output.WriteLine(rootSection);
                output.WriteLine();
                output.WriteLine("Run 'teleguard-backup COMMAND --help' for a command's options and examples.");
                break;
            case CommandWithExamples command:
                output.WriteLine("Examples:");
                foreach (var example in command.Examples)
                {
                    output.WriteLine($"  {example}");
                }

                break;
        }

        return 0;
    }
}
