namespace TeleGuard.Backup.TestSupport;

/// <summary>
/// A clock that runs at real speed from a point that can be moved (simulated hours pass in seconds). Only the time it
/// tells moves: timers and delays stay real.
/// </summary>
public sealed class SimulatedClock : TimeProvider
{
    private long _offsetTicks;

    /// <summary>From now on the clock reads <paramref name="now"/>, then runs on.</summary>
    public void Set(DateTimeOffset now) => Interlocked.Exchange(ref _offsetTicks, (now - System.GetUtcNow()).Ticks);

    public override DateTimeOffset GetUtcNow() => System.GetUtcNow() + TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks));
}
