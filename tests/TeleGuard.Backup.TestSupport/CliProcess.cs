using System.Diagnostics;
using System.Text;

namespace TeleGuard.Backup.TestSupport;

/// <summary>
/// Runs <c>teleguard-backup</c> as a separate process, as an operator would, with exactly the given environment
/// (plus what the .NET host needs), capturing everything it prints.
/// </summary>
public sealed class CliProcess : IDisposable
{
    private static readonly string[] InheritedVariables = ["PATH", "HOME", "TMPDIR", "LANG", "DOTNET_ROOT", "DOTNET_CLI_HOME", "NUGET_PACKAGES"];

    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly StringBuilder _standardOutput = new();
    private readonly StringBuilder _standardError = new();

    private CliProcess(Process process) => _process = process;

    public int Id => _process.Id;

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Only what the program wrote to stdout (its command output; logs go to stderr).</summary>
    public string StandardOutput
    {
        get
        {
            lock (_output)
            {
                return _standardOutput.ToString();
            }
        }
    }

    /// <summary>Only what the program wrote to stderr (logs and error lines).</summary>
    public string StandardError
    {
        get
        {
            lock (_output)
            {
                return _standardError.ToString();
            }
        }
    }

    public static CliProcess Start(IReadOnlyDictionary<string, string?> environment, params string[] args) =>
        StartAssembly("teleguard-backup", environment, args);

    /// <summary>Starts one service's own program (e.g. <c>TeleGuard.Backup.Telegram</c>), as its container would.</summary>
    public static CliProcess StartService(string assemblyName, IReadOnlyDictionary<string, string?> environment) =>
        StartAssembly(assemblyName, environment);

    private static CliProcess StartAssembly(string assemblyName, IReadOnlyDictionary<string, string?> environment, params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, assemblyName + ".dll");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment.Clear();
        foreach (var name in InheritedVariables)
        {
            if (Environment.GetEnvironmentVariable(name) is { } value)
            {
                start.Environment[name] = value;
            }
        }

        start.Environment["DOTNET_NOLOGO"] = "1";
        foreach (var (name, value) in environment)
        {
            start.Environment[name] = value;
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var cli = new CliProcess(process);
        process.OutputDataReceived += (_, e) => cli.Append(e.Data, standardOutput: true);
        process.ErrorDataReceived += (_, e) => cli.Append(e.Data, standardOutput: false);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return cli;
    }

    /// <summary>Runs to completion: the exit code, everything printed, stdout alone and stderr alone.</summary>
    public static async Task<CliResult> RunAsync(IReadOnlyDictionary<string, string?> environment, TimeSpan timeout, params string[] args)
    {
        using var cli = Start(environment, args);
        var exitCode = await cli.WaitForExitAsync(timeout);
        return new CliResult(exitCode, cli.Output, cli.StandardOutput, cli.StandardError);
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            Kill();
            throw new TimeoutException($"teleguard-backup did not exit within {timeout.TotalSeconds:0} s. Output:\n{Output}");
        }

        _process.WaitForExit(); // flushes the redirected output
        return _process.ExitCode;
    }

    /// <summary>Waits until the program has printed <paramref name="text"/> (e.g. that it started); fails if it exits first.</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!Output.Contains(text, StringComparison.Ordinal))
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The process exited ({_process.ExitCode}) before printing \"{text}\". Output:\n{Output}");
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The process did not print \"{text}\" within {timeout.TotalSeconds:0} s. Output:\n{Output}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>SIGINT, as Ctrl+C in the operator's terminal.</summary>
    public void Interrupt() => Signal("-INT");

    /// <summary>SIGTERM, as <c>docker stop</c> or systemd stopping the service: a graceful stop.</summary>
    public void Terminate() => Signal("-TERM");

    private void Signal(string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", [signal, _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))!;
        kill.WaitForExit();
    }

    /// <summary>SIGKILL: no shutdown, no cleanup, as a crash or an OOM kill.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
    }

    private void Append(string? line, bool standardOutput)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
            (standardOutput ? _standardOutput : _standardError).AppendLine(line);
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }
}

public sealed record CliResult(int ExitCode, string Output, string StandardOutput, string StandardError)
{
    public void Deconstruct(out int exitCode, out string output)
    {
        exitCode = ExitCode;
        output = Output;
    }
}
