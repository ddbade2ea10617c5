namespace TeleGuard.Backup.SnapshotFormat;

/// <summary>
/// What a restore to a time has staged, by the name each collection has at that time: the snapshot's collections,
/// then what the replayed events made of them. A collection created by an event gets a work collection of its own; a
/// renamed one keeps its work collection under its new name; a dropped one is <see cref="Absent"/>: the swap removes
/// the target's collection of that name.
/// </summary>
public sealed class StagedCollections
{
    private readonly Dictionary<string, StagedEntry> _present = new(StringComparer.Ordinal);
    private readonly HashSet<string> _absent = new(StringComparer.Ordinal);
    private int _lastIndex;

    public StagedCollections(IEnumerable<(string Name, StagedEntry Collection)> snapshot)
    {
        foreach (var (name, collection) in snapshot)
        {
            _present.Add(name, collection);
            _lastIndex = Math.Max(_lastIndex, collection.Index);
        }
    }

    public IReadOnlyDictionary<string, StagedEntry> Present => _present;

    /// <summary>Names that existed at some point of the replay (or in the snapshot) and do not at its end.</summary>
    public IReadOnlyCollection<string> Absent => _absent;

    public StagedEntry? Find(string name) => _present.GetValueOrDefault(name);

    /// <summary>A work collection number no staged collection uses (for a new collection, or a name to move aside).</summary>
    public int NextIndex() => ++_lastIndex;

    public StagedEntry Add(string name, string type)
    {
        var added = new StagedEntry(NextIndex(), type);
        _present.Add(name, added);
        _absent.Remove(name);
        return added;
    }

    /// <summary>The name no longer exists; returns what was staged under it (its work collection is the caller's to drop).</summary>
    public StagedEntry? Remove(string name)
    {
        _present.Remove(name, out var removed);
        _absent.Add(name);
        return removed;
    }

    /// <summary>Moves what is staged under <paramref name="from"/> to <paramref name="to"/>, which must be free.</summary>
    public void Rename(string from, string to)
    {
        var moved = _present[from];
        _present.Remove(from);
        _absent.Add(from);
        _present.Add(to, moved);
        _absent.Remove(to);
    }
}
