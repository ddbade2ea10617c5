using StackExchange.Redis;

namespace TeleGuard.Backup.Storage;

/// <summary>A claim taken with <see cref="RedisLocks.TryClaimWorkAsync"/>: the full key and this holder's token.</summary>
public sealed record WorkClaim(RedisKey Key, string Token);
