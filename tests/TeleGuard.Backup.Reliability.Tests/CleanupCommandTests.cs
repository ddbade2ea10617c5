using Microsoft.Extensions.Time.Testing;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Reliability.Tests;

/// <summary><c>cleanup --wait</c> from the command line against running services: each destination's result, then the exit code.</summary>
public sealed class CleanupCommandTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);
    private static readonly string[] Destinations = ["github", "public", "telegram", "store"];

    [Fact]
    public async Task Cleanup_wait_prints_each_destinations_result_and_exits_0_then_1_when_a_destination_fails()
    {
        await using var pipeline = await Pipeline.CreateAsync(rabbitMq: true);
        var git = FaultProxy.For(pipeline.Settings["GITHUB_REPO"]!);
        pipeline.Track(git);
        pipeline.Settings["GITHUB_REPO"] = git.Through(pipeline.Settings["GITHUB_REPO"]!);
        pipeline.Settings["GITHUB_PUBLIC_REPO"] = git.Through(pipeline.Settings["GITHUB_PUBLIC_REPO"]!);
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var host = await pipeline.StartHostAsync(clock: clock);
        var older = await Pipeline.RequestSnapshotAsync(host);
        Assert.Equal(BackupStatus.Complete, (await pipeline.FinishedAsync(older, Timeout)).Status);
        await Task.Delay(TimeSpan.FromSeconds(1.1));
        var newer = await Pipeline.RequestSnapshotAsync(host);
        Assert.Equal(BackupStatus.Complete, (await pipeline.FinishedAsync(newer, Timeout)).Status);
        clock.Advance(TimeSpan.FromHours(9)); // both are past RETENTION_HOURS (8); the newer one is the last good copy

        var cleanup = await pipeline.RunCliAsync(Timeout, "cleanup", "--wait");
        output.WriteLine(cleanup.StandardOutput);

        Assert.True(cleanup.ExitCode == 0, cleanup.Output + pipeline.ProcessOutput);
        foreach (var destination in Destinations)
        {
            Assert.Single(Lines(cleanup.StandardOutput), l => l.StartsWith($"{destination}: ok", StringComparison.Ordinal));
        }

        Assert.Contains(Lines(cleanup.StandardOutput), l => l.StartsWith("telegram: ok", StringComparison.Ordinal) && l.Contains("deleted 1 message"));
        Assert.Contains(Lines(cleanup.StandardOutput), l => l.StartsWith("store: ok", StringComparison.Ordinal) && l.Contains("removed 1 artifact"));
        // What it printed had happened by the time it exited.
        // (The services' clock stands still at nine hours later: that is when each copy was removed.)
        var removed = (await pipeline.Meta.GetAsync(older, CancellationToken.None))!;
        var cleanedAt = StoredTime.Of(clock.GetUtcNow());
        Assert.All(new[] { BackupSinks.Telegram, BackupSinks.Public }, s => Assert.Equal(cleanedAt, removed.Sinks[s].RemovedAt));
        Assert.Equal(cleanedAt, removed.Artifact!.DeletedAt);
        Assert.Empty(pipeline.TelegramMessagesFor(older));

        // The git server goes away: the two git destinations fail (after their retries), the others still answer.
        git.Cut();
        var failing = await pipeline.RunCliAsync(Timeout, "cleanup", "--wait");
        output.WriteLine(failing.StandardOutput);

        Assert.True(failing.ExitCode == 1, failing.Output + pipeline.ProcessOutput);
        Assert.Single(Lines(failing.StandardOutput), l => l.StartsWith("github: failed", StringComparison.Ordinal));
        Assert.Single(Lines(failing.StandardOutput), l => l.StartsWith("public: failed", StringComparison.Ordinal));
        Assert.Single(Lines(failing.StandardOutput), l => l.StartsWith("telegram: ok", StringComparison.Ordinal));
        Assert.Single(Lines(failing.StandardOutput), l => l.StartsWith("store: ok", StringComparison.Ordinal));
    }

    private static string[] Lines(string output) => output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
