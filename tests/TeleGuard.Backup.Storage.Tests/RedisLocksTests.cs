using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Storage.Tests;

public sealed class RedisLocksTests
{
    private static RedisOptions Options(string url, string prefix) =>
        OptionsCheck.Bind<RedisOptions, RedisOptionsValidator>(new Dictionary<string, string?> { ["REDIS_URL"] = url, ["REDIS_KEY_PREFIX"] = prefix }).Valid;

    [Fact]
    public async Task Of_many_concurrent_claimants_across_connections_exactly_one_wins()
    {
        var url = await TestServices.RedisUrlAsync();
        var prefix = TestServices.UniqueName("test");
        var connections = Enumerable.Range(0, 4)
            .Select(_ => new RedisConnection(Microsoft.Extensions.Options.Options.Create(Options(url, prefix)), NullLogger<RedisConnection>.Instance))
            .ToList();
        try
        {
            var results = await Task.WhenAll(connections.SelectMany(c => Enumerable.Range(0, 5)
                .Select(_ => new RedisLocks(c).TryClaimOnceAsync("slot:20261126T040000Z", TimeSpan.FromMinutes(5), CancellationToken.None))));
            Assert.Equal(1, results.Count(r => r));
            Assert.True(await new RedisLocks(connections[0]).IsClaimedAsync("slot:20261126T040000Z", CancellationToken.None));
            Assert.False(await new RedisLocks(connections[0]).IsClaimedAsync("slot:20261126T050000Z", CancellationToken.None));
        }
        finally
        {
            foreach (var connection in connections)
            {
                await connection.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task An_unreachable_redis_is_reported_as_unavailable_not_as_a_crash()
    {
        await using var connection = new RedisConnection(
            Microsoft.Extensions.Options.Options.Create(Options("redis://127.0.0.1:1", "x")), NullLogger<RedisConnection>.Instance);
        await Assert.ThrowsAsync<RedisUnavailableException>(() =>
            new RedisLocks(connection).TryClaimOnceAsync("k", TimeSpan.FromSeconds(5), CancellationToken.None));
    }
}
