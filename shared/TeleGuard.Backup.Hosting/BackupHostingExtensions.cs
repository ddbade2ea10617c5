using System.Reflection;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using TeleGuard.Backup.Configuration;
using TeleGuard.Backup.Storage;

namespace TeleGuard.Backup.Hosting;

public static class BackupHostingExtensions
{
    /// <summary>
    /// What every service shares: settings from the environment (validated at start-up), structured console logs,
    /// MongoDB / Redis / artifact storage, and health checks. Services then add their consumers with
    /// <see cref="AddBackupConsumers"/>, and <see cref="AddBackupBus"/> wires them all to one bus.
    /// </summary>
    public static IHostApplicationBuilder AddBackupDefaults(this IHostApplicationBuilder builder, string defaultLogFormat = "json")
    {
        builder.ConfigureBackupLogging(defaultLogFormat);
        builder.Services.AddBackupStorage();
        builder.Services.AddEnvironmentOptions<BusOptions, BusOptionsValidator>();
        builder.Services.AddEnvironmentOptions<RetentionOptions, RetentionOptionsValidator>();
        builder.Services.AddEnvironmentOptions<WorkDirectoryOptions, WorkDirectoryOptionsValidator>();
        builder.Services.AddSingleton<BackupMetrics>();
        builder.Services.AddSingleton<CleanupReporter>();
        // Every service names itself (its assembly: TeleGuard.Backup.GitHub, teleguard-backup …) and its version.
        var service = Assembly.GetEntryAssembly()?.GetName();
        var telemetry = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(
                serviceName: service?.Name ?? builder.Environment.ApplicationName,
                serviceVersion: service?.Version?.ToString() ?? "unknown"))
            .WithMetrics(metrics => metrics
                .AddMeter(BackupMetrics.MeterName)
                .AddMeter("MassTransit") // receive, consume, publish and send counts and durations per endpoint and message type
                .AddMeter("System.Runtime") // the runtime's own metrics: GC, heap, thread pool, exceptions, CPU time
                .AddPrometheusExporter())
            .WithTracing(tracing => tracing.AddSource("MassTransit")); // MassTransit's consume/publish/send activities
        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            telemetry.UseOtlpExporter(); // traces and metrics to a collector, when one is configured
        }

        builder.Services.AddHealthChecks()
            .AddCheck<MongoHealthCheck>("mongodb", tags: ["ready"])
            .AddCheck<RedisHealthCheck>("redis", tags: ["ready"]);
        return builder;
    }

    /// <summary><c>LOG_FORMAT</c> = <c>json</c> (default) or <c>text</c>; <c>LOG_LEVEL</c> (default Information).</summary>
    public static IHostApplicationBuilder ConfigureBackupLogging(this IHostApplicationBuilder builder, string defaultFormat = "json")
    {
        var format = builder.Configuration["LOG_FORMAT"] ?? defaultFormat;
        var level = Enum.TryParse<LogLevel>(builder.Configuration["LOG_LEVEL"], ignoreCase: true, out var parsed) ? parsed : LogLevel.Information;
        builder.Logging.ClearProviders();
        if (string.Equals(format, "text", StringComparison.OrdinalIgnoreCase))
        {
            builder.Logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ssZ ";
            });
        }
        else
        {
            builder.Logging.AddJsonConsole(o =>
            {
                o.UseUtcTimestamp = true;
                o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
                // Text as written (only quotes, backslashes and control characters escaped), so what a line says can
                // be searched for as it is, e.g. when checking that no secret ever appears in a log.
                o.JsonWriterOptions = new System.Text.Json.JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
            });
        }

        // A log line that cannot be written is counted and reported, never thrown at the operation that logged it.
        builder.Services.TryAddSingleton<LogWriteFailures>();
        builder.Services.Replace(ServiceDescriptor.Singleton<ILoggerFactory>(sp => new FailSafeLoggerFactory(
            new LoggerFactory(
                sp.GetServices<ILoggerProvider>(),
                sp.GetRequiredService<IOptionsMonitor<LoggerFilterOptions>>(),
                sp.GetService<IOptions<LoggerFactoryOptions>>(),
                sp.GetService<IExternalScopeProvider>()),
            sp.GetRequiredService<LogWriteFailures>())));

        // Every log line goes to stderr: stdout is for command output (status --json).
        builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Logging.SetMinimumLevel(level);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Information);
        // HttpClient's own logging writes request URLs; the Telegram token is part of every Bot API URL.
        builder.Logging.AddFilter("System.Net.Http.HttpClient", LogLevel.None);
        return builder;
    }

    /// <summary>Adds a service's consumers; they join the one bus that <see cref="AddBackupBus"/> configures.</summary>
    public static IServiceCollection AddBackupConsumers(this IServiceCollection services, Action<IBusRegistrationConfigurator> register)
    {
        BusRegistrations.Of(services).Add(register);
        return services;
    }

    /// <summary>
    /// MassTransit on RabbitMQ when <c>RABBITMQ_URI</c> is set, else in memory, with every consumer added so far.
    /// Failures are retried with exponential backoff; what still fails moves to the endpoint's <c>_error</c> queue
    /// (MassTransit's default), never discarded.
    /// </summary>
    public static IHostApplicationBuilder AddBackupBus(this IHostApplicationBuilder builder)
    {
        // Read here, not through IOptions: the bus is created while the app is built, before the configuration check
        // (which then reports every problem, these settings' included).
        var bus = new BusOptions();
        SettingsBinder.Bind(builder.Configuration, bus);
        var registrations = BusRegistrations.Of(builder.Services);
        // Start-up returns only once queues and bindings exist, so nothing published right after start is lost.
        // A broker that stays unreachable for the start timeout ends the process (exit 1) for its restart policy.
        // Stopping (SIGTERM): consumers get the host's shutdown time (DOTNET_SHUTDOWNTIMEOUTSECONDS, 110 s in compose,
        // under its 120 s stop_grace_period) less a margin to finish. One still working then (an upload Telegram has not
        // answered) is not cancelled: the process exits under it, its message unacknowledged, and it is redelivered;
        // what it recorded before each step (backups_meta's intents) lets the next attempt carry on.
        builder.Services.AddOptions<MassTransitHostOptions>().Configure<IOptions<HostOptions>>((o, host) =>
        {
            o.WaitUntilStarted = true;
            o.StartTimeout = TimeSpan.FromSeconds(60);
            o.StopTimeout = host.Value.ShutdownTimeout > TimeSpan.FromSeconds(10) ? host.Value.ShutdownTimeout - TimeSpan.FromSeconds(5) : host.Value.ShutdownTimeout;
        });
        builder.Services.AddMassTransit(x =>
        {
            x.SetKebabCaseEndpointNameFormatter();
            foreach (var register in registrations)
            {
                register(x);
            }

            if (bus.UseRabbitMq)
            {
                x.UsingRabbitMq((context, cfg) =>
                {
                    cfg.Host(bus.Host, bus.Port, bus.VirtualHost, h =>
                    {
                        h.Username(bus.Username);
                        h.Password(bus.Password);
                        if (bus.UseTls)
                        {
                            h.UseSsl(s => s.ServerName = bus.Host);
                        }
                    });
                    ConfigureRetry(cfg, bus);
                    cfg.ConfigureEndpoints(context);
                });
            }
            else
            {
                x.UsingInMemory((context, cfg) =>
                {
                    ConfigureRetry(cfg, bus);
                    cfg.ConfigureEndpoints(context);
                });
            }
        });
        return builder;
    }

    private static void ConfigureRetry(IBusFactoryConfigurator cfg, BusOptions bus)
    {
        if (bus.RetryLimit > 0)
        {
            cfg.UseMessageRetry(r =>
            {
                r.Exponential(bus.RetryLimit, bus.RetryMinInterval, bus.RetryMaxInterval, bus.RetryMinInterval);
                r.Ignore<PermanentFailureException>();
            });
        }
    }

    /// <summary>Adds the bus, builds the app and maps <c>/health/live</c> and <c>/health/ready</c>.</summary>
    public static WebApplication BuildBackupApp(this WebApplicationBuilder builder)
    {
        builder.AddBackupBus();
        var app = builder.Build();
        app.MapBackupHealth();
        return app;
    }

    public static WebApplication MapBackupHealth(this WebApplication app)
    {
        // Live: the process answers. Ready: RabbitMQ (MassTransit's bus check), MongoDB and Redis.
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions { Predicate = check => check.Tags.Contains("ready") });
        app.MapPrometheusScrapingEndpoint("/metrics");
        return app;
    }

    /// <summary>Builds and runs a service; configuration errors end it with exit code 2 and a message naming each variable.</summary>
    public static async Task<int> RunBackupServiceAsync(this WebApplicationBuilder builder)
    {
        var app = builder.BuildBackupApp();
        if (ConfigurationFailure.Check(app.Services) is { } exitCode)
        {
            return exitCode;
        }

        try
        {
            await app.RunAsync();
            return 0;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Typically the broker unreachable for the whole start timeout: exit, and let the restart policy retry.
            Console.Error.WriteLine($"teleguard-backup: could not start: {ErrorText.Describe(e)}");
            return 1;
        }
    }
}

/// <summary>Consumer registrations collected from every Add…Service() before the bus is configured once.</summary>
internal sealed class BusRegistrations : List<Action<IBusRegistrationConfigurator>>
{
    public static BusRegistrations Of(IServiceCollection services)
    {
        var existing = services.FirstOrDefault(d => d.ServiceType == typeof(BusRegistrations))?.ImplementationInstance;
        if (existing is BusRegistrations registrations)
        {
            return registrations;
        }

        registrations = [];
        services.AddSingleton(registrations);
        return registrations;
    }
}
