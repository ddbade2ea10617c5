using MongoDB.Bson;

namespace TeleGuard.Backup.Benchmarks;

/// <summary>Documents shaped like TeleGuard's (ids, strings, numbers, dates, small arrays, a nested settings object).</summary>
public static class SyntheticDocuments
{
    public static BsonDocument Create(int i, int padBytes)
    {
        var random = new Random(i);
        return new BsonDocument
        {
            { "_id", ObjectId.Parse($"{1_700_000_000 + i / 1000:x8}{0:x8}{i:x8}") },
            { "telegramId", 100_000_000L + i },
            { "username", $"user_{i:x8}" },
            { "firstName", "Пользователь 用户 " + (i % 97) },
            { "balance", Decimal128.Parse($"{random.Next(0, 1_000_000)}.{random.Next(0, 100):D2}") },
            { "score", random.NextDouble() * 1000 },
            { "active", i % 3 != 0 },
            { "createdAt", new BsonDateTime(DateTime.UnixEpoch.AddSeconds(1_600_000_000 + i)) },
            { "tags", new BsonArray { "alpha", "beta", i % 5 } },
            { "settings", new BsonDocument { { "lang", "ru" }, { "notify", true }, { "limits", new BsonDocument { { "daily", 10 }, { "monthly", 300L } } } } },
            { "note", new string((char)('a' + i % 26), padBytes) },
        };
    }
}
