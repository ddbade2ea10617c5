using System.Text;

namespace TeleGuard.Backup.TestSupport;

/// <summary>
/// A git tree object edited byte for byte, so tests can write what <c>git mktree</c> refuses (names such as <c>..</c>,
/// <c>../evil</c> or <c>a/b</c>), as someone with push access could. Entries stay in git's order so lookups still work.
/// </summary>
public sealed class RawGitTree
{
    public const string File = "100644";
    public const string Folder = "40000";
    public const string SymbolicLink = "120000";
    public const string Submodule = "160000";

    private readonly List<(string Mode, string Name, string Sha)> _entries = [];

    /// <summary>Parses the raw tree object (mode, space, name, NUL, 20-byte id; repeated).</summary>
    public static RawGitTree Parse(byte[] raw)
    {
        var tree = new RawGitTree();
        for (var i = 0; i < raw.Length;)
        {
            var space = Array.IndexOf(raw, (byte)' ', i);
            var nul = Array.IndexOf(raw, (byte)0, space);
            tree._entries.Add((Encoding.ASCII.GetString(raw, i, space - i), Encoding.UTF8.GetString(raw, space + 1, nul - space - 1),
                Convert.ToHexStringLower(raw.AsSpan(nul + 1, 20))));
            i = nul + 21;
        }

        return tree;
    }

    public string ShaOf(string name) => _entries.Single(e => e.Name == name).Sha;

    /// <summary>Adds an entry, replacing one of the same name.</summary>
    public RawGitTree With(string mode, string name, string sha)
    {
        _entries.RemoveAll(e => e.Name == name);
        _entries.Add((mode, name, sha));
        return this;
    }

    public byte[] ToBytes()
    {
        using var output = new MemoryStream();
        // git's order: byte-wise by name, a folder's name compared as if it ended with '/'.
        foreach (var (mode, name, sha) in _entries.OrderBy(e => Encoding.UTF8.GetBytes(e.Mode == Folder ? e.Name + "/" : e.Name), ByteOrder.Instance))
        {
            output.Write(Encoding.ASCII.GetBytes(mode + " "));
            output.Write(Encoding.UTF8.GetBytes(name));
            output.WriteByte(0);
            output.Write(Convert.FromHexString(sha));
        }

        return output.ToArray();
    }

    private sealed class ByteOrder : IComparer<byte[]>
    {
        public static readonly ByteOrder Instance = new();

        public int Compare(byte[]? x, byte[]? y) => x.AsSpan().SequenceCompareTo(y);
    }
}
