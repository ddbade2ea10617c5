using System.Runtime.InteropServices;

namespace TeleGuard.Backup.Cli;

/// <summary>
/// A token cancelled by Ctrl+C (SIGINT) or SIGTERM, so that a long command stops cleanly (a restore drops what it wrote
/// and leaves the target as it was) instead of the process being torn down mid-write.
/// </summary>
public sealed class OperatorCancellation : IDisposable
{
    private readonly CancellationTokenSource _source = new();
    private readonly PosixSignalRegistration _interrupt;
    private readonly PosixSignalRegistration _terminate;

    public OperatorCancellation()
    {
        _interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
        _terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
    }

    public CancellationToken Token => _source.Token;

    private void Cancel(PosixSignalContext context)
    {
        context.Cancel = true; // the command ends itself, cleanly
        _source.Cancel();
    }

    public void Dispose()
    {
        _interrupt.Dispose();
        _terminate.Dispose();
        _source.Dispose();
    }
}
