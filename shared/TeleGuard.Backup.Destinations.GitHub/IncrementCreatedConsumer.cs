using MassTransit;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.SnapshotFormat;
using TeleGuard.Backup.Storage;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace TeleGuard.Backup.Destinations.GitHub;

/// <summary>
/// Copies each increment to the private branch and records the outcome on the increment's record in backups_meta
/// (<c>sinks.github</c>): running with the attempt counted, then succeeded with the commit, or the error (failed once
/// retrying is over). Its own queue: a failing increment never holds up the snapshot commits.
/// </summary>
public sealed partial class IncrementCreatedConsumer(
    GitHubIncrementPublisher publisher,
    IncrementsStore increments,
    IOptions<GitHubSinkOptions> options,
    IOptions<BusOptions> bus,
    TimeProvider time,
    ILogger<IncrementCreatedConsumer> logger) : IConsumer<IncrementCreated>
{
    public async Task Consume(ConsumeContext<IncrementCreated> context)
    {
        var increment = context.Message;
        var cancellationToken = context.CancellationToken;
        if (!options.Value.Enabled)
        {
            await increments.RecordSinkOutcomeAsync(increment.IncrementId, BackupSinks.GitHub, SinkStatus.Skipped, null, null, Now, cancellationToken);
            return;
        }

        await increments.RecordSinkAttemptAsync(increment.IncrementId, BackupSinks.GitHub, Now, cancellationToken);
        try
        {
            var location = await publisher.PublishAsync(increment, await PredecessorFailedAsync(increment, cancellationToken), cancellationToken);
            await increments.RecordSinkOutcomeAsync(increment.IncrementId, BackupSinks.GitHub, SinkStatus.Succeeded, null, location, Now, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            var error = ErrorText.Describe(e);
            if (e is PermanentFailureException || context.GetRetryAttempt() >= bus.Value.RetryLimit)
            {
                await increments.RecordSinkOutcomeAsync(increment.IncrementId, BackupSinks.GitHub, SinkStatus.Failed, error, null, Now, CancellationToken.None);
                LogFailed(logger, increment.IncrementId, error);
            }
            else
            {
                await increments.RecordSinkErrorAsync(increment.IncrementId, BackupSinks.GitHub, error, CancellationToken.None);
            }

            throw;
        }
    }

    private DateTime Now => time.GetUtcNow().UtcDateTime;

    private async Task<bool> PredecessorFailedAsync(IncrementCreated increment, CancellationToken cancellationToken) =>
        increment.Sequence > 1
        && (await increments.GetAsync(IncrementManifest.IdOf(increment.Chain, increment.Sequence - 1), cancellationToken))
            ?.Sinks.GetValueOrDefault(BackupSinks.GitHub)?.Status == SinkStatus.Failed;

    [LoggerMessage(Level = LogLevel.Error, Message = "GitHub: increment {IncrementId} could not be copied: {Error}")]
    private static partial void LogFailed(ILogger logger, string incrementId, string error);
}

/// <summary>
/// Several at a time, unlike the snapshot queue: an increment that arrived before its predecessor is retried in place,
/// and with one message at a time the predecessor queued behind it could never get through. Commits still go one at a
/// time (the clone's lock and the branch lock), and a redelivery finds its increment on the branch.
/// </summary>
public sealed class IncrementCreatedConsumerDefinition : ConsumerDefinition<IncrementCreatedConsumer>
{
    public IncrementCreatedConsumerDefinition()
    {
        EndpointName = "teleguard-github-increments";
        ConcurrentMessageLimit = 4;
    }

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<IncrementCreatedConsumer> consumerConfigurator, IRegistrationContext context)
    {
        endpointConfigurator.PrefetchCount = 4;
    }
}
