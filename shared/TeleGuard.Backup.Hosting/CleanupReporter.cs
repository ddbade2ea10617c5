using MassTransit;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Hosting;

/// <summary>
/// Runs one destination's retention for a <see cref="CleanupRequested"/> and answers with <see cref="CleanupCompleted"/>:
/// the summary once it succeeded, the error once it failed for good (a failure that will be retried answers nothing
/// yet, and is rethrown so that the bus retries it and finally keeps it in the <c>_error</c> queue).
/// </summary>
public sealed partial class CleanupReporter(IOptions<BusOptions> bus, TimeProvider time, ILogger<CleanupReporter> logger)
{
    /// <summary>The destinations that answer every cleanup request.</summary>
    public static readonly IReadOnlyList<string> Destinations = [.. BackupSinks.All, ArtifactStoreDestination];

    /// <summary>The artifact store's name as a cleanup destination.</summary>
    public const string ArtifactStoreDestination = "store";

    /// <summary>What a destination without configuration answers.</summary>
    public const string Disabled = "disabled (not configured), nothing to clean";

    /// <param name="applyRetention">Applies retention and says what it did.</param>
    public async Task RunAsync(ConsumeContext<CleanupRequested> context, string destination, Func<CancellationToken, Task<string>> applyRetention)
    {
        string summary;
        try
        {
            summary = await applyRetention(context.CancellationToken);
        }
        catch (CleanupPostponedException e)
        {
            LogCleanupPostponed(logger, destination, context.Message.SlotId, e.Message);
            await context.Publish(new CleanupCompleted(context.Message.SlotId, destination, false, $"postponed: {e.Message}", time.GetUtcNow(), Postponed: true),
                CancellationToken.None);
            return;
        }
        catch (Exception e) when (e is not OperationCanceledException || !context.CancellationToken.IsCancellationRequested)
        {
            if (e is PermanentFailureException || context.GetRetryAttempt() >= bus.Value.RetryLimit)
            {
                var error = ErrorText.OneLine(e);
                LogCleanupFailed(logger, destination, context.Message.SlotId, error);
                await context.Publish(new CleanupCompleted(context.Message.SlotId, destination, false, error, time.GetUtcNow()), CancellationToken.None);
            }

            throw;
        }

        LogCleanupDone(logger, destination, context.Message.SlotId, summary);
        await context.Publish(new CleanupCompleted(context.Message.SlotId, destination, true, summary, time.GetUtcNow()), context.CancellationToken);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Destination}: cleanup {RequestId} postponed: {Reason}")]
    private static partial void LogCleanupPostponed(ILogger logger, string destination, string requestId, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "{Destination}: cleanup {RequestId} failed: {Error}")]
    private static partial void LogCleanupFailed(ILogger logger, string destination, string requestId, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "{Destination}: cleanup {RequestId}: {Summary}")]
    private static partial void LogCleanupDone(ILogger logger, string destination, string requestId, string summary);
}
