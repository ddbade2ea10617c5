using System.Diagnostics;
using System.Text;

namespace TeleGuard.Backup.TestSupport;

/// <summary>
/// A bare clone of one branch on the git server, edited with git plumbing and pushed back over HTTP: what anyone with
/// push access can do to a branch (rewrite trees, forge commits with any Snapshot-Id trailer).
/// </summary>
public sealed class GitPlumbing(string path, string branch)
{
    public static GitPlumbing Clone(GitServer server, Uri repository, string branch, string path)
    {
        var authenticated = new UriBuilder(repository) { UserName = server.User, Password = server.Token }.Uri.ToString();
        GitServer.Run(null, "clone", "--quiet", "--bare", "--branch", branch, authenticated, path);
        return new GitPlumbing(path, branch);
    }

    public string Head => GitServer.Run(path, "rev-parse", branch).Trim();

    /// <summary>The tree (of the branch head when <paramref name="treeish"/> is null), e.g. <c>HEAD:snapshot</c>.</summary>
    public RawGitTree ReadTree(string? treeish = null) => RawGitTree.Parse(Execute(null, "cat-file", "tree", treeish ?? $"{branch}^{{tree}}"));

    public byte[] ReadBlob(string file) => Execute(null, "cat-file", "blob", $"{branch}:{file}");

    public string WriteBlob(byte[] content) => Encoding.ASCII.GetString(Execute(content, "hash-object", "-w", "--stdin")).Trim();

    /// <summary>Writes the tree as is (<c>--literally</c>: git's own checks would refuse the names these tests need).</summary>
    public string WriteTree(RawGitTree tree) => Encoding.ASCII.GetString(Execute(tree.ToBytes(), "hash-object", "-t", "tree", "--literally", "-w", "--stdin")).Trim();

    /// <summary>Commits <paramref name="tree"/> on top of the branch head and force-pushes it to the server.</summary>
    public string PushCommit(string tree, string message)
    {
        var commit = GitServer.Run(path, "-c", "user.name=mallory", "-c", "user.email=m@example.org", "commit-tree", tree, "-p", Head, "-m", message).Trim();
        GitServer.Run(path, "update-ref", $"refs/heads/{branch}", commit);
        GitServer.Run(path, "push", "--quiet", "--force", "origin", $"{branch}:{branch}");
        return commit;
    }

    private byte[] Execute(byte[]? input, params string[] args)
    {
        var start = new ProcessStartInfo("git")
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        start.ArgumentList.Add("-C");
        start.ArgumentList.Add(path);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        using var output = new MemoryStream();
        var copy = process.StandardOutput.BaseStream.CopyToAsync(output);
        if (input is not null)
        {
            process.StandardInput.BaseStream.Write(input);
        }

        process.StandardInput.Close();
        copy.GetAwaiter().GetResult();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"git {string.Join(' ', args)} failed ({process.ExitCode}): {error.Result}");
        }

        return output.ToArray();
    }
}
