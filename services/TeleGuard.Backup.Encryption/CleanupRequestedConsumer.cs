using MassTransit;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;

namespace TeleGuard.Backup.Encryption;

/// <summary>Retention on the public branch: older snapshots removed, the newest always kept, history rewritten to one commit.</summary>
public sealed class CleanupRequestedConsumer(EncryptedSnapshotPublisher publisher, IOptions<EncryptionSinkOptions> options)
    : IConsumer<CleanupRequested>
{
    public Task Consume(ConsumeContext<CleanupRequested> context) =>
        options.Value.Enabled ? publisher.CleanupAsync(context.CancellationToken) : Task.CompletedTask;
}

public sealed class CleanupRequestedConsumerDefinition() : OneAtATimeConsumerDefinition<CleanupRequestedConsumer>("teleguard-public-cleanup");
