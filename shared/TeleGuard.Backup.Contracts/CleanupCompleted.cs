using MassTransit;

namespace TeleGuard.Backup.Contracts;

/// <summary>
/// One destination's answer to a <see cref="CleanupRequested"/>: its retention ran (or failed for good, after its
/// retries). Each service publishes one per destination it owns; <c>cleanup --wait</c> collects them.
/// </summary>
/// <param name="RequestId">The <see cref="CleanupRequested.SlotId"/> answered.</param>
/// <param name="Destination"><c>github</c>, <c>public</c>, <c>telegram</c> or <c>store</c> (the artifact store).</param>
/// <param name="Summary">What retention did there (or why it failed), one line without secrets.</param>
/// <param name="Postponed">Retention did not run this time (no branch lock, a copy in progress); the next cleanup does it.</param>
[MessageUrn("teleguard-backup:cleanup-completed")]
public record CleanupCompleted(string RequestId, string Destination, bool Succeeded, string Summary, DateTimeOffset CompletedAt, bool Postponed = false);
