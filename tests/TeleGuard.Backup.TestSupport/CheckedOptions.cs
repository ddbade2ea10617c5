namespace TeleGuard.Backup.TestSupport;

/// <summary>Options as a service reads them: <see cref="Options"/> when valid, else null with every failure in <see cref="Errors"/>.</summary>
public sealed record CheckedOptions<TOptions>(TOptions? Options, IReadOnlyList<string> Errors) where TOptions : class
{
    /// <summary>The options, failing the test with the errors when they are invalid.</summary>
    public TOptions Valid => Options ?? throw new InvalidOperationException($"Expected valid options: {string.Join(" ", Errors)}");
}
