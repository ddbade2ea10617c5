using System.CommandLine;
using System.CommandLine.Invocation;

namespace TeleGuard.Backup.Cli;

/// <summary>
/// What was wrong with the command line, as one line: the first parse error and System.CommandLine's typo suggestions
/// for the first unmatched word ("did you mean"), which it prints on several lines.
/// </summary>
public static class UsageErrorLine
{
    public static string Of(ParseResult parsed)
    {
        var suggestions = new StringWriter();
        if (parsed.Action is ParseErrorAction action)
        {
            action.ShowHelp = false;
            action.ShowTypoCorrections = true;
        }

        parsed.Invoke(new InvocationConfiguration { Output = suggestions, Error = TextWriter.Null });

        // One group per unmatched word: a line quoting the word, then the names it may have meant.
        var firstWord = suggestions.ToString()
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select((line, index) => (line, index))
            .TakeWhile(l => l.index == 0 || !l.line.StartsWith('\''))
            .Select(l => l.line);
        return string.Join(" ", [parsed.Errors[0].Message, .. firstWord]);
    }
}
