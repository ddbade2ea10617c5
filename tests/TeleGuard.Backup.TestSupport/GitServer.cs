using System.Diagnostics;

namespace TeleGuard.Backup.TestSupport;

/// <summary>
/// The git smart-HTTP server from services.env (GIT_HTTP_BASE, GIT_HTTP_ROOT, GIT_HTTP_USER, GIT_HTTP_TOKEN): it
/// serves every bare repository under its root, with basic auth, and rejects blobs over 100 MiB as GitHub does.
/// There is no container for it: without the variables the test is skipped (or fails when services are required).
/// </summary>
public sealed record GitServer(string BaseUrl, string Root, string User, string Token)
{
    public static GitServer FromEnvironment()
    {
        var baseUrl = Environment.GetEnvironmentVariable("GIT_HTTP_BASE");
        var root = Environment.GetEnvironmentVariable("GIT_HTTP_ROOT");
        if (string.IsNullOrWhiteSpace(baseUrl) || string.IsNullOrWhiteSpace(root))
        {
            if (TestServices.Required)
            {
                throw new InvalidOperationException("GIT_HTTP_BASE is not set and TELEGUARD_TEST_SERVICES=required.");
            }

            Xunit.Assert.Skip("GIT_HTTP_BASE is not set (start ../shared/ci/services.sh); git integration test skipped.");
        }

        return new GitServer(baseUrl!.TrimEnd('/'), root!,
            Environment.GetEnvironmentVariable("GIT_HTTP_USER") ?? "x-access-token",
            Environment.GetEnvironmentVariable("GIT_HTTP_TOKEN") ?? "");
    }

    /// <summary>Creates an empty bare repository on the server; returns its URL and its path on disk.</summary>
    public (Uri Url, string Path) CreateRepository()
    {
        var name = TestServices.UniqueName("repo");
        var path = System.IO.Path.Combine(Root, name + ".git");
        Run(null, "init", "--quiet", "--bare", "--initial-branch=main", path);
        return (new Uri($"{BaseUrl}/{name}.git"), path);
    }

    /// <summary>The exact bytes of a file in a commit of a bare repository on the server.</summary>
    public static byte[] ReadBlob(string repositoryPath, string commitish, string file)
    {
        var start = new ProcessStartInfo("git") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in new[] { "-C", repositoryPath, "cat-file", "blob", $"{commitish}:{file}" })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        using var bytes = new MemoryStream();
        var error = process.StandardError.ReadToEndAsync();
        process.StandardOutput.BaseStream.CopyTo(bytes);
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"git cat-file {commitish}:{file} failed: {error.Result}");
        }

        return bytes.ToArray();
    }

    /// <summary>Runs the git CLI and returns its standard output (throws on a non-zero exit).</summary>
    public static string Run(string? directory, params string[] args)
    {
        var start = new ProcessStartInfo("git") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (directory is not null)
        {
            start.ArgumentList.Add("-C");
            start.ArgumentList.Add(directory);
        }

        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"git {string.Join(' ', args)} failed ({process.ExitCode}): {error}");
        }

        return output.Result;
    }
}
