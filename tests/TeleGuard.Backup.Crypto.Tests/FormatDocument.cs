using System.Text;
using System.Text.RegularExpressions;

namespace TeleGuard.Backup.Crypto.Tests;

/// <summary>
/// Reads the test vectors printed in docs/encryption-format.md, so the tests check the document itself: the shared table
/// under "Test vectors" and, per version, the snapshot id and the ciphertext's hex block.
/// </summary>
public static partial class FormatDocument
{
    public static TestVector Vector(string version)
    {
        var text = File.ReadAllText(Path.Combine(RepositoryRoot(), "docs", "encryption-format.md")).ReplaceLineEndings("\n");
        var vectors = text[text.IndexOf("\n## Test vectors\n", StringComparison.Ordinal)..];
        var shared = vectors[..vectors.IndexOf("\n### ", StringComparison.Ordinal)];
        var start = vectors.IndexOf($"\n### {version}\n", StringComparison.Ordinal);
        Assert.True(start >= 0, $"No \"### {version}\" section under \"## Test vectors\".");
        var section = vectors[(start + 1)..];
        var next = section.IndexOf("\n#", StringComparison.Ordinal);
        section = next < 0 ? section : section[..next];

        var values = TableRow().Matches(shared).ToDictionary(m => m.Groups["name"].Value.Trim(), m => m.Groups["value"].Value);
        var hex = HexBlock().Match(section).Groups["hex"].Value.Replace("\n", "");
        var snapshotId = SnapshotId().Match(section) is { Success: true } id ? id.Groups["id"].Value : null;
        return new TestVector(values, hex, snapshotId);
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "TeleGuard.Backup.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("TeleGuard.Backup.sln not found above the test binaries.");
    }

    [GeneratedRegex(@"^\| (?<name>[^|`]+) \| `?(?<value>[^`|]+?)`? \|$", RegexOptions.Multiline)]
    private static partial Regex TableRow();

    [GeneratedRegex(@"```\n(?<hex>[0-9a-f\n]+)```")]
    private static partial Regex HexBlock();

    [GeneratedRegex(@"^Snapshot id `(?<id>[^`]+)`", RegexOptions.Multiline)]
    private static partial Regex SnapshotId();
}

public sealed record TestVector(IReadOnlyDictionary<string, string> Values, string CiphertextHex, string? SnapshotIdOrNull)
{
    public string Value(string name) => Values.TryGetValue(name, out var value) ? value : throw new KeyNotFoundException($"No \"{name}\" row in the test vector table.");

    public byte[] Key => Convert.FromHexString(Value("master key"));
    public byte[] Salt => Convert.FromHexString(Value("salt"));
    public int ChunkBytes => int.Parse(Value("chunk size"));
    public byte[] Plaintext => Encoding.ASCII.GetBytes(Value("plaintext (43 bytes, ASCII)"));
    public string SnapshotId => SnapshotIdOrNull ?? throw new InvalidOperationException("This vector names no snapshot id.");
}
