namespace TeleGuard.Backup.Cli;

/// <summary>
/// The files of one encrypted snapshot: a .tgb file, its parts, or a folder holding one snapshot's files (a public copy's
/// <c>ID.tgb.part-0001</c>, … or a Telegram copy's <c>teleguard-ID.tgb.part001of003</c>, …).
/// </summary>
public static class EncryptedFiles
{
    public static IReadOnlyList<string> Resolve(string input, string? snapshotId)
    {
        if (File.Exists(input))
        {
            return [input];
        }

        if (!Directory.Exists(input))
        {
            throw new FileNotFoundException($"{input} does not exist.");
        }

        var candidates = Directory.EnumerateFiles(input, "*.tgb*", SearchOption.AllDirectories)
            .Where(f => snapshotId is null || Path.GetFileName(f).StartsWith(snapshotId + ".tgb", StringComparison.Ordinal)
                || Path.GetFileName(f).StartsWith($"teleguard-{snapshotId}.tgb", StringComparison.Ordinal)) // a Telegram copy's parts
            .GroupBy(f => Path.GetFileName(f).Split(".tgb")[0])
            .ToList();
        if (candidates.Count != 1)
        {
            throw new FileNotFoundException(candidates.Count == 0
                ? $"{input} holds no encrypted snapshot{(snapshotId is null ? "" : $" {snapshotId}")}."
                : $"{input} holds several snapshots ({string.Join(", ", candidates.Select(c => c.Key))}); choose one with --snapshot.");
        }

        return candidates[0].OrderBy(f => f, StringComparer.Ordinal).ToList(); // .tgb.part-0001, .part-0002, …
    }
}
