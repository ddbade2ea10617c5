using System.CommandLine;
using TeleGuard.Backup.Configuration;
using TeleGuard.Backup.Crypto;
using TeleGuard.Backup.Destinations;
using TeleGuard.Backup.Destinations.Public;
using TeleGuard.Backup.Destinations.Telegram;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.SnapshotFormat;

namespace TeleGuard.Backup.Cli;

/// <summary><c>keygen</c> and <c>decrypt</c>: work offline, with keys from the environment only.</summary>
public static class KeyCommands
{
    public static Command CreateKeygen()
    {
        var command = new CommandWithExamples("keygen",
            "Print a new key for ENCRYPTION_KEY or TELEGRAM_ENCRYPTION_KEY (base64 of 32 random bytes) on stdout; its key id and how to use it on stderr.",
            "teleguard-backup keygen > encryption.key");
        command.SetAction(_ => Keygen());
        return command;
    }

    public static Command CreateDecrypt()
    {
        var input = new Option<string>("--in") { Description = "a downloaded .tgb file, one of its parts, or the folder holding them", HelpName = "FILE|DIR", Required = true };
        var output = new Option<string>("--out") { Description = "the snapshot archive (tar) to write; it appears only when every chunk verified", HelpName = "FILE", Required = true };
        var snapshot = new Option<string?>("--snapshot") { Description = "the snapshot the file must be (and, in a folder of several, the one to pick)", HelpName = "ID" };
        var command = new CommandWithExamples("decrypt",
            "Decrypt a downloaded public snapshot or Telegram copy into the snapshot archive (tar), with ENCRYPTION_KEY, TELEGRAM_ENCRYPTION_KEY or their previous keys.",
            "teleguard-backup decrypt --in 20250101T030000Z.tgb --out snapshot.tar",
            "teleguard-backup decrypt --in ./downloads --snapshot 20250101T030000Z --out snapshot.tar",
            "teleguard-backup restore --from file --path snapshot.tar --to-uri mongodb://localhost:27017/app")
        {
            input,
            output,
            snapshot,
        };
        command.SetAction(result => DecryptAsync(result.GetRequiredValue(input), result.GetRequiredValue(output), result.GetValue(snapshot)));
        return command;
    }

    /// <summary>Prints a fresh key for ENCRYPTION_KEY or TELEGRAM_ENCRYPTION_KEY (stdout: the key alone; stderr: its id and how to use it).</summary>
    public static int Keygen()
    {
        var key = EncryptionKeyRing.GenerateKey();
        Console.WriteLine(Convert.ToBase64String(key));
        Console.Error.WriteLine($"key id {EncryptionKeyRing.KeyIdOf(key)}: set it as ENCRYPTION_KEY (or, a different key, as TELEGRAM_ENCRYPTION_KEY); when rotating, move the old key to ENCRYPTION_PREVIOUS_KEYS (TELEGRAM_ENCRYPTION_PREVIOUS_KEYS).");
        return 0;
    }

    /// <summary>
    /// Decrypts a downloaded public snapshot or Telegram copy (a .tgb file, or a folder holding its parts) into the
    /// snapshot archive (tar), and says which snapshot the file is. The file's key id picks the key among ENCRYPTION_KEY,
    /// TELEGRAM_ENCRYPTION_KEY and their previous keys. With <c>--snapshot</c> a file of another snapshot is refused. The
    /// output appears only when every chunk verified; on any error nothing is left behind.
    /// </summary>
    public static async Task<int> DecryptAsync(string input, string output, string? snapshot)
    {
        var configuration = new ConfigurationBuilder().AddEnvironmentVariables().Build();
        var settings = new DecryptionKeysOptions();
        SettingsBinder.Bind(configuration, settings);
        var check = new DecryptionKeysOptionsValidator().Validate(null, settings);
        if (check.Failed || settings.Keys is not { } keys)
        {
            return ConfigurationFailure.Report(new Microsoft.Extensions.Options.OptionsValidationException("keys", typeof(DecryptionKeysOptions), check.Failures ?? []));
        }

        IReadOnlyList<string> files;
        try
        {
            files = EncryptedFiles.Resolve(input, snapshot);
        }
        catch (FileNotFoundException e)
        {
            Console.Error.WriteLine($"teleguard-backup: {e.Message}");
            return 1;
        }

        var temporary = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(output))!, $".{Path.GetFileName(output)}.{Guid.NewGuid():N}.partial");
        try
        {
            await using (var ciphertext = new ConcatenatedFilesStream(files))
            {
                // With --snapshot the file must be that snapshot; without, any snapshot decrypts and we say which it is.
                var header = await EncryptedArchive.DecryptAsync(ciphertext, temporary, keys, snapshot);
                var of = header.SnapshotId is null ? "(format version 1: the file does not name its snapshot)" : $"of snapshot {header.SnapshotId}";
                Console.Error.WriteLine($"decrypted {files.Count} file(s) {of} encrypted with key {header.KeyId}");
            }

            File.Move(temporary, output, overwrite: true);
            Console.Error.WriteLine($"wrote {output} ({new FileInfo(output).Length} bytes, the snapshot archive)");
            return 0;
        }
        catch (Exception e) when (e is EncryptedFileException or InvalidDataException or IOException)
        {
            Console.Error.WriteLine($"teleguard-backup: cannot decrypt {input}: {e.Message} Nothing was written.");
            return 1;
        }
        finally
        {
            File.Delete(temporary);
        }
    }
}
