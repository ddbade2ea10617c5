namespace TeleGuard.Backup.Destinations.Public;

/// <summary>The README.md kept on the public branch: what the files are and how anyone can check them without the key.</summary>
public static class PublicBranchReadme
{
    public const string FileName = "README.md";

    public const string Text = """
        # TeleGuard encrypted backups

        This branch holds encrypted snapshots of a TeleGuard database, one per backup, written by TeleGuard.Backup.
        Only the holder of the encryption key can read them; anyone can check that they exist and are intact.

        - `snapshots/<id>.tgb` is one snapshot (the id is its UTC time, `20261126T040000Z`). A snapshot larger than
          45 MiB is stored as `snapshots/<id>.tgb.part-0001`, `.part-0002`, …: concatenate them in order.
        - `index.json` lists every snapshot with the size and SHA-256 of the whole encrypted file, the id of the key it
          was encrypted with, and the size and SHA-256 of each part.
        - `increments/<base snapshot id>/<increment id>.tgb` is the change history after a snapshot (one increment
          about every minute), encrypted the same way, for a restore to any second.

        Check a snapshot without the key:

        ```bash
        cat snapshots/20261126T040000Z.tgb* | sha256sum    # equals "sha256" in index.json
        ```

        Decrypt it with the key (`ENCRYPTION_KEY`, or one of `ENCRYPTION_PREVIOUS_KEYS` for older snapshots):

        ```bash
        teleguard-backup decrypt --in snapshots/ --snapshot 20261126T040000Z --out snapshot.tar
        ```

        The file format (AES-256-GCM in authenticated chunks, a key derived per file with HKDF-SHA256) is documented
        in the project's `docs/encryption-format.md`. Old snapshots are removed after the retention period, except the
        newest one; the branch is rewritten as a single commit when that happens.
        """;
}
