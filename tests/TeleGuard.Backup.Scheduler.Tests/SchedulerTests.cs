using System.Collections.Concurrent;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Time.Testing;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Scheduler.Tests;

/// <summary>Scheduler instances on a real RabbitMQ and Redis, with a controllable clock; a listener counts what arrives.</summary>
public sealed class SchedulerTests : IAsyncDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 30, TimeSpan.Zero);

    private readonly List<IHost> _hosts = [];
    private readonly ConcurrentQueue<object> _received = new();
    private RabbitMqVirtualHost? _vhost;
    private Dictionary<string, string?> _settings = [];

    public sealed class Recorder(ConcurrentQueue<object> received) : IConsumer<SnapshotRequested>, IConsumer<CleanupRequested>
    {
        public Task Consume(ConsumeContext<SnapshotRequested> context)
        {
            received.Enqueue(context.Message);
            return Task.CompletedTask;
        }

        public Task Consume(ConsumeContext<CleanupRequested> context)
        {
            received.Enqueue(context.Message);
            return Task.CompletedTask;
        }
    }

    private async Task InitializeAsync(bool catchUp)
    {
        _vhost = await TestServices.RabbitMqVirtualHostAsync();
        _settings = new Dictionary<string, string?>
        {
            ["MONGODB_URI"] = await TestServices.MongoUriAsync(),
            ["RABBITMQ_URI"] = _vhost.AmqpUri,
            ["REDIS_URL"] = await TestServices.RedisUrlAsync(),
            ["REDIS_KEY_PREFIX"] = TestServices.UniqueName("test"),
            ["BACKUP_SCHEDULE"] = "0 * * * *",
            ["CLEANUP_SCHEDULE"] = "0 12 * * *", // not reached by these tests
            ["SCHEDULER_CATCH_UP"] = catchUp ? "true" : "false",
            ["LOG_LEVEL"] = "Warning",
        };

        var listener = TestHosts.CreateBuilder(_settings);
        listener.AddBackupDefaults();
        listener.Services.AddSingleton(_received);
        listener.Services.AddBackupConsumers(x => x.AddConsumer<Recorder>().Endpoint(e => e.Name = "test-recorder"));
        listener.AddBackupBus();
        await StartAsync(listener.Build());
    }

    private async Task<IHost> StartSchedulerAsync(FakeTimeProvider time)
    {
        var builder = TestHosts.CreateBuilder(_settings);
        builder.Services.AddSingleton<TimeProvider>(time);
        builder.AddBackupDefaults();
        builder.AddSchedulerService();
        builder.AddBackupBus();
        return await StartAsync(builder.Build());
    }

    private async Task<IHost> StartAsync(IHost host)
    {
        await host.StartAsync();
        _hosts.Add(host);
        return host;
    }

    private static ScheduleLoop Loop(IHost host) => host.Services.GetServices<IHostedService>().OfType<ScheduleLoop>().Single();

    private static Task WaitUntilWaitingForAsync(IHost host, DateTimeOffset slot) =>
        TestHosts.EventuallyAsync(() => Task.FromResult(Loop(host).NextDue == slot ? "waiting" : null),
            TimeSpan.FromSeconds(30), $"the scheduler to wait for {slot:O} (it waits for {Loop(host).NextDue:O}; task {Loop(host).ExecuteTask?.Status} {Loop(host).ExecuteTask?.Exception})");

    private async Task<List<SnapshotRequested>> SnapshotRequestsAsync(int expected)
    {
        await TestHosts.EventuallyAsync(() => Task.FromResult(_received.OfType<SnapshotRequested>().Count() >= expected ? "arrived" : null),
            TimeSpan.FromSeconds(30), $"{expected} SnapshotRequested");
        await Task.Delay(1500); // time for a duplicate, if any, to arrive as well
        return _received.OfType<SnapshotRequested>().OrderBy(r => r.SnapshotId).ToList();
    }

    [Fact]
    public async Task Two_scheduler_instances_across_two_slots_publish_exactly_two_requests()
    {
        await InitializeAsync(catchUp: false);
        var time = new FakeTimeProvider(Start);
        var first = await StartSchedulerAsync(time);
        var second = await StartSchedulerAsync(time);
        var slot1 = new DateTimeOffset(2026, 1, 1, 1, 0, 0, TimeSpan.Zero);
        await WaitUntilWaitingForAsync(first, slot1);
        await WaitUntilWaitingForAsync(second, slot1);

        time.Advance(TimeSpan.FromHours(1)); // 01:00:30
        await WaitUntilWaitingForAsync(first, slot1.AddHours(1));
        await WaitUntilWaitingForAsync(second, slot1.AddHours(1));
        time.Advance(TimeSpan.FromHours(1)); // 02:00:30

        var requests = await SnapshotRequestsAsync(2);
        Assert.Equal(["20260101T010000Z", "20260101T020000Z"], requests.Select(r => r.SnapshotId));
        Assert.All(requests, r => Assert.Equal("schedule", r.Reason));
        Assert.Empty(_received.OfType<CleanupRequested>());
    }

    [Fact]
    public async Task A_restarted_scheduler_requests_the_missed_slot_of_the_last_hour_once()
    {
        await InitializeAsync(catchUp: true);
        var time = new FakeTimeProvider(Start.AddMinutes(20)); // 00:20:30: the 00:00 slot was missed
        var first = await StartSchedulerAsync(time);
        await SnapshotRequestsAsync(1);
        await first.StopAsync();

        time.Advance(TimeSpan.FromMinutes(20)); // 00:40:30: restart; 00:00 was already requested
        var second = await StartSchedulerAsync(time);
        await WaitUntilWaitingForAsync(second, new DateTimeOffset(2026, 1, 1, 1, 0, 0, TimeSpan.Zero));
        await second.StopAsync();

        time.Advance(TimeSpan.FromMinutes(30)); // 01:10:30: down across 01:00, restarted within the hour
        await StartSchedulerAsync(time);

        var requests = await SnapshotRequestsAsync(2);
        Assert.Equal(["20260101T000000Z", "20260101T010000Z"], requests.Select(r => r.SnapshotId));
        Assert.All(requests, r => Assert.Equal("catch-up", r.Reason));
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            try
            {
                await host.StopAsync();
            }
            catch (OperationCanceledException)
            {
            }

            host.Dispose();
        }

        if (_vhost is not null)
        {
            await _vhost.DisposeAsync();
        }
    }
}
