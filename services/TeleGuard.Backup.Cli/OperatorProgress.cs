using Spectre.Console;

namespace TeleGuard.Backup.Cli;

/// <summary>
/// Progress of a long operation: on a terminal a live status line (Spectre.Console) above the finished steps; when
/// output is redirected (cron, CI, a pipe), plain lines only.
/// </summary>
public static class OperatorProgress
{
    public static async Task<T> RunAsync<T>(string title, Func<Action<string>, Task<T>> operation)
    {
        if (Console.IsOutputRedirected || !AnsiConsole.Profile.Capabilities.Interactive)
        {
            Console.WriteLine(title);
            return await operation(Console.WriteLine);
        }

        return await AnsiConsole.Status().StartAsync(title, async context =>
            await operation(line =>
            {
                AnsiConsole.MarkupLine(Markup.Escape(line));
                context.Status(Markup.Escape($"{title} — {line}"));
            }));
    }
}
