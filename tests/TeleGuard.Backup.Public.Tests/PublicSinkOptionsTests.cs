using TeleGuard.Backup.Crypto;
using TeleGuard.Backup.Destinations.Public;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Public.Tests;

public sealed class PublicSinkOptionsTests
{
    private static CheckedOptions<PublicSinkOptions> Load(Dictionary<string, string?> values) =>
        OptionsCheck.Bind<PublicSinkOptions, PublicSinkOptionsValidator>(values);

    private static readonly string Key = Convert.ToBase64String(EncryptionKeyRing.GenerateKey());

    [Fact]
    public void Disabled_without_encryption_key_or_public_variables_even_when_the_private_repo_is_set() =>
        Assert.False(Load(new() { ["GITHUB_REPO"] = "https://github.com/o/r.git", ["GITHUB_TOKEN"] = "t" }).Valid.Enabled);

    [Theory]
    [InlineData("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==")] // 31 bytes
    [InlineData("c2VjcmV0IGtleSB2YWx1ZQ")]
    [InlineData("not base64 at all")]
    public void A_key_that_is_not_base64_of_32_bytes_is_named_and_never_echoed(string key)
    {
        var errors = Load(new() { ["ENCRYPTION_KEY"] = key, ["GITHUB_PUBLIC_REPO"] = "https://github.com/o/p.git", ["GITHUB_TOKEN"] = "t" }).Errors;
        var error = Assert.Single(errors);
        Assert.StartsWith("ENCRYPTION_KEY must be base64 of exactly 32 bytes", error);
        Assert.DoesNotContain(key, error);
    }

    [Fact]
    public void Some_but_not_all_variables_name_what_is_missing()
    {
        var errors = Load(new() { ["GITHUB_PUBLIC_BRANCH"] = "pub" }).Errors;
        Assert.Contains(errors, e => e.StartsWith("ENCRYPTION_KEY is required", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("GITHUB_PUBLIC_REPO is required", StringComparison.Ordinal));
        Assert.Contains(errors, e => e.StartsWith("GITHUB_TOKEN is required", StringComparison.Ordinal));
        Assert.Single(Load(new() { ["ENCRYPTION_KEY"] = Key, ["GITHUB_PUBLIC_REPO"] = "https://github.com/o/p.git", ["ENCRYPTION_PREVIOUS_KEYS"] = $"{Key},short", ["GITHUB_TOKEN"] = "t" })
            .Errors, e => e == "ENCRYPTION_PREVIOUS_KEYS entry 2 is not base64 of exactly 32 bytes.");
    }

    [Fact]
    public void The_public_repository_is_never_taken_from_the_private_one()
    {
        var errors = Load(new() { ["ENCRYPTION_KEY"] = Key, ["GITHUB_REPO"] = "https://github.com/o/r.git", ["GITHUB_TOKEN"] = "t" }).Errors;
        Assert.Contains(errors, e => e.StartsWith("GITHUB_PUBLIC_REPO is required", StringComparison.Ordinal) && e.Contains("would expose the plain snapshots", StringComparison.Ordinal));
    }

    [Fact]
    public void A_full_configuration_defaults_to_the_public_snapshots_branch()
    {
        var options = Load(new() { ["ENCRYPTION_KEY"] = Key, ["GITHUB_PUBLIC_REPO"] = "https://github.com/o/p.git", ["GITHUB_TOKEN"] = "t" }).Valid;
        Assert.True(options.Enabled);
        Assert.Equal("public-snapshots", options.Remote!.Branch);
        Assert.Equal("https://github.com/o/p.git", options.Remote.RepositoryUrl.ToString());
    }

    [Fact]
    public void Encrypted_output_is_split_into_files_no_larger_than_the_limit_whose_concatenation_is_the_whole()
    {
        using var folder = new TemporaryDirectory();
        Directory.CreateDirectory(folder.Path);
        var data = System.Security.Cryptography.RandomNumberGenerator.GetBytes(100_000);
        using var parts = new PartFileStream(folder.Path, "x.tgb", 30_000);
        parts.Write(data.AsSpan(0, 12_345));
        parts.Write(data.AsSpan(12_345));
        var (files, sha256) = parts.Complete();
        Assert.Equal(["x.tgb.part-0001", "x.tgb.part-0002", "x.tgb.part-0003", "x.tgb.part-0004"], files.Select(f => f.FileName));
        Assert.Equal(data, files.SelectMany(f => File.ReadAllBytes(Path.Combine(folder.Path, f.FileName))).ToArray());
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(data)), sha256);
        Assert.All(files, f => Assert.True(f.Size <= 30_000));
    }

    [Fact]
    public async Task Keygen_prints_a_usable_key_on_stdout()
    {
        var result = await CliProcess.RunAsync(new Dictionary<string, string?>(), TimeSpan.FromSeconds(60), "keygen");
        Assert.Equal(0, result.ExitCode);
        var key = EncryptionKeyRing.ParseKey(result.StandardOutput.Trim());
        Assert.Equal(32, key?.Length);
        Assert.Contains($"key id {EncryptionKeyRing.KeyIdOf(key!)}", result.Output);

        // Usable: what it encrypts decrypts with the same key.
        var keys = new EncryptionKeyRing(key!);
        using var encrypted = new MemoryStream();
        await StreamingEncryption.EncryptAsync(new MemoryStream("backup"u8.ToArray()), encrypted, keys, "20261126T040000Z", CancellationToken.None);
        using var decrypted = new MemoryStream();
        await StreamingEncryption.DecryptAsync(new MemoryStream(encrypted.ToArray()), decrypted, keys, "20261126T040000Z", CancellationToken.None);
        Assert.Equal("backup"u8.ToArray(), decrypted.ToArray());
    }
}
