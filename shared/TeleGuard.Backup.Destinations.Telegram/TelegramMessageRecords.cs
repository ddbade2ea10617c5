using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Destinations.Telegram;

/// <summary>
/// What <c>backups_meta</c> knows about the channel's messages, across everything the sink sends (snapshot copies and
/// increment batches): bots cannot read a channel, so these records are the only list of its messages.
/// </summary>
public sealed class TelegramMessageRecords(BackupsMetaStore meta, TelegramBatchStore batches)
{
    /// <summary>The highest message id recorded by the latest copies and batches; 0 when none is.</summary>
    public async Task<int> HighestRecentMessageIdAsync(CancellationToken cancellationToken)
    {
        var snapshots = (await meta.ListRecentAsync(24, cancellationToken))
            .SelectMany(r => r.Sinks.GetValueOrDefault(BackupSinks.Telegram)?.LocationAs<TelegramLocation>()?.Parts ?? []);
        var batched = (await batches.ListRecentAsync(24, cancellationToken)).SelectMany(b => b.Location?.Parts ?? []);
        return snapshots.Concat(batched).Select(p => p.MessageId).DefaultIfEmpty(0).Max();
    }

    /// <summary>Which of <paramref name="messageIds"/> a snapshot copy or a batch recorded as one of its parts.</summary>
    public async Task<HashSet<int>> RecordedAmongAsync(IReadOnlyCollection<int> messageIds, CancellationToken cancellationToken)
    {
        var snapshots = (await meta.ListSinkCopiesReferencingAsync(BackupSinks.Telegram, TelegramLocation.PartMessageIdPath, messageIds, cancellationToken))
            .SelectMany(r => r.Sinks[BackupSinks.Telegram].LocationAs<TelegramLocation>()!.Parts);
        var batched = (await batches.ListReferencingAsync(messageIds, cancellationToken)).SelectMany(b => b.Location?.Parts ?? []);
        return snapshots.Concat(batched).Select(p => p.MessageId).Where(messageIds.Contains).ToHashSet();
    }

    /// <summary>The intents of parts being sent right now (their messages, if Telegram took them, are above each intent's id).</summary>
    public async Task<List<TelegramSendIntent>> OpenIntentsAsync(CancellationToken cancellationToken)
    {
        var snapshots = (await meta.ListSinkCopiesInProgressAsync(BackupSinks.Telegram, cancellationToken))
            .Select(r => r.Sinks[BackupSinks.Telegram].LocationAs<TelegramLocation>()?.Sending);
        var batched = (await batches.ListAllSendingAsync(cancellationToken)).Select(b => b.Location?.Sending);
        return snapshots.Concat(batched).OfType<TelegramSendIntent>().ToList();
    }
}
