using TeleGuard.Backup.Configuration;

namespace TeleGuard.Backup.Recording;

public static class RecorderServiceRegistration
{
    /// <summary>The change recorder: tails the change stream into increments (one active instance per database, others stand by).</summary>
    public static IHostApplicationBuilder AddChangeRecorderService(this IHostApplicationBuilder builder)
    {
        builder.Services.AddEnvironmentOptions<RecorderOptions, RecorderOptionsValidator>();
        builder.Services.AddHostedService<ChangeRecorder>();
        return builder;
    }
}
