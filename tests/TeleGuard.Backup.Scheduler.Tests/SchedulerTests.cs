using System.Collections.Concurrent;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using MongoDB.Driver;
using TeleGuard.Backup.Contracts;
using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Scheduling;
using TeleGuard.Backup.Storage;
using TeleGuard.Backup.TestSupport;

namespace TeleGuard.Backup.Scheduler.Tests;

/// <summary>
/// Scheduler instances on a real RabbitMQ and Redis, with a controllable clock; a publish observer on the schedulers
/// keeps what they published and a listener what arrived.
/// </summary>
public sealed class SchedulerTests : IAsyncDisposable
{
    private static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 30, TimeSpan.Zero);

    private readonly List<IHost> _hosts = [];
    private readonly List<IAsyncDisposable> _disposables = [];
    private readonly ConcurrentQueue<object> _received = new();
    private readonly PublishedMessages _published = new();
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

    private async Task<IHost> StartSchedulerAsync(FakeTimeProvider time, IDictionary<string, string?>? overrides = null, CapturedLogs? logs = null)
    {
        var settings = new Dictionary<string, string?>(_settings);
        foreach (var (name, value) in overrides ?? new Dictionary<string, string?>())
        {
            settings[name] = value;
        }

        var builder = TestHosts.CreateBuilder(settings);
        builder.Services.AddSingleton<TimeProvider>(time);
        builder.AddBackupDefaults();
        if (logs is not null)
        {
            builder.Logging.AddProvider(logs);
        }

        builder.AddSchedulerService();
        builder.Services.AddPublishObserver(_ => _published);
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

    private static async Task WaitUntilWaitingForAsync(IHost host, DateTimeOffset slot) =>
        await TestHosts.EventuallyAsync(() => Task.FromResult(Loop(host).NextDue == slot ? "waiting" : null),
            TimeSpan.FromSeconds(30), $"the scheduler to wait for {slot:O} (it waits for {Loop(host).NextDue:O}; task {Loop(host).ExecuteTask?.Status} {Loop(host).ExecuteTask?.Exception})");

    /// <summary>Waits until <paramref name="expected"/> requests arrived at the listener; returns those that did, by slot.</summary>
    private async Task<List<SnapshotRequested>> SnapshotRequestsAsync(int expected)
    {
        await TestHosts.EventuallyAsync(() => Task.FromResult(_received.OfType<SnapshotRequested>().Count() >= expected ? "arrived" : null),
            TimeSpan.FromSeconds(30), $"{expected} SnapshotRequested");
        return _received.OfType<SnapshotRequested>().OrderBy(r => r.SnapshotId).ToList();
    }

    /// <summary>Slots of every SnapshotRequested the schedulers published, in order.</summary>
    private List<string> PublishedSlots() => _published.Of<SnapshotRequested>().Select(r => r.SnapshotId).Order(StringComparer.Ordinal).ToList();

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
        // Each instance has handled the 02:00 slot once it waits for the next one: between them they published one
        // request per slot, and each one published arrived.
        await WaitUntilWaitingForAsync(first, slot1.AddHours(2));
        await WaitUntilWaitingForAsync(second, slot1.AddHours(2));
        Assert.Equal(["20260101T010000Z", "20260101T020000Z"], PublishedSlots());

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
        var third = await StartSchedulerAsync(time);
        // Each start's catch-up is done once the scheduler waits for its next slot: 00:00 was published once (the
        // second start found it requested), 01:00 once.
        await WaitUntilWaitingForAsync(third, new DateTimeOffset(2026, 1, 1, 2, 0, 0, TimeSpan.Zero));
        Assert.Equal(["20260101T000000Z", "20260101T010000Z"], PublishedSlots());

        var requests = await SnapshotRequestsAsync(2);
        Assert.Equal(["20260101T000000Z", "20260101T010000Z"], requests.Select(r => r.SnapshotId));
        Assert.All(requests, r => Assert.Equal("catch-up", r.Reason));
    }

    // Positive evidence that the scheduler is publishing the slot's request: it records the request in backups_meta first.
    private async Task WaitUntilRecordedAsync(string slotId)
    {
        var uri = _settings["MONGODB_URI"]!;
        var meta = new BackupsMetaStore(new MongoClient(uri).GetDatabase(MongoUrl.Create(uri).DatabaseName), TimeProvider.System);
        await TestHosts.EventuallyAsync(async () => await meta.GetAsync(slotId, CancellationToken.None), TimeSpan.FromSeconds(30),
            $"the scheduler to record the request of {slotId}");
    }

    [Fact]
    public async Task A_slot_due_while_the_broker_is_down_is_requested_once_it_is_back()
    {
        await InitializeAsync(catchUp: false);
        var broker = FaultProxy.For(_settings["RABBITMQ_URI"]!);
        _disposables.Add(broker);
        var time = new FakeTimeProvider(Start);
        var logs = new CapturedLogs();
        var scheduler = await StartSchedulerAsync(time, new Dictionary<string, string?> { ["RABBITMQ_URI"] = broker.Through(_settings["RABBITMQ_URI"]!) }, logs);
        var slot = new DateTimeOffset(2026, 1, 1, 1, 0, 0, TimeSpan.Zero);
        await WaitUntilWaitingForAsync(scheduler, slot);

        broker.Cut();
        time.Advance(TimeSpan.FromHours(1)); // 01:00:30: the slot is due and its request cannot be published
        await WaitUntilRecordedAsync("20260101T010000Z");
        // The publish waits for the broker on the scheduler's clock, from a moment after the request is recorded: move
        // the clock on in steps until the scheduler has given up (PublishTimeout after that moment).
        await TestHosts.EventuallyAsync(() =>
        {
            if (logs.All.Contains("Could not request Backup slot 20260101T010000Z"))
            {
                return Task.FromResult<string?>("failed");
            }

            time.Advance(SlotRequester.PublishTimeout / 6);
            return Task.FromResult<string?>(null);
        }, TimeSpan.FromSeconds(30), "the scheduler to give up publishing the 01:00 request");
        Assert.Empty(PublishedSlots());

        broker.Restore();
        time.Advance(ScheduleLoop.RetryInterval); // the scheduler's next look, well before the next slot (02:00)
        var requests = await SnapshotRequestsAsync(1);
        // A publish that MassTransit still held when it was given up may go out as well: a harmless duplicate.
        Assert.Equal(["20260101T010000Z"], requests.Select(r => r.SnapshotId).Distinct());
    }

    [Fact]
    public async Task A_slot_that_could_not_be_published_before_a_restart_is_requested_by_the_restarted_scheduler()
    {
        await InitializeAsync(catchUp: true);
        var broker = FaultProxy.For(_settings["RABBITMQ_URI"]!);
        _disposables.Add(broker);
        var throughProxy = new Dictionary<string, string?> { ["RABBITMQ_URI"] = broker.Through(_settings["RABBITMQ_URI"]!) };
        var time = new FakeTimeProvider(Start);
        var scheduler = await StartSchedulerAsync(time, throughProxy);
        await SnapshotRequestsAsync(1); // 00:00, caught up at start
        var slot = new DateTimeOffset(2026, 1, 1, 1, 0, 0, TimeSpan.Zero);
        await WaitUntilWaitingForAsync(scheduler, slot);

        broker.Cut();
        time.Advance(TimeSpan.FromHours(1)); // 01:00:30: the slot is due while the broker is down
        await WaitUntilRecordedAsync("20260101T010000Z");
        await scheduler.StopAsync(); // stopped (deploy, crash, host reboot) before the request went out

        broker.Restore();
        time.Advance(TimeSpan.FromMinutes(5)); // 01:05:30: restarted within the catch-up window
        await StartSchedulerAsync(time, throughProxy);
        var requests = await SnapshotRequestsAsync(2);
        Assert.Equal(["20260101T000000Z", "20260101T010000Z"], requests.Select(r => r.SnapshotId).Distinct());
        Assert.Contains(requests, r => r.SnapshotId == "20260101T010000Z" && r.Reason == "catch-up");
    }

    [Fact]
    public async Task Two_deployments_sharing_one_Redis_each_request_their_own_slot()
    {
        await InitializeAsync(catchUp: false);
        var otherDeployment = await TestServices.RabbitMqVirtualHostAsync();
        _disposables.Add(otherDeployment);
        var otherReceived = new ConcurrentQueue<object>();
        var otherSettings = new Dictionary<string, string?>(_settings)
        {
            ["RABBITMQ_URI"] = otherDeployment.AmqpUri,
            ["MONGODB_URI"] = await TestServices.MongoUriAsync(), // another database, same Redis and key prefix
        };
        var listener = TestHosts.CreateBuilder(otherSettings);
        listener.AddBackupDefaults();
        listener.Services.AddSingleton(otherReceived);
        listener.Services.AddBackupConsumers(x => x.AddConsumer<Recorder>().Endpoint(e => e.Name = "test-recorder"));
        listener.AddBackupBus();
        await StartAsync(listener.Build());

        var time = new FakeTimeProvider(Start);
        var first = await StartSchedulerAsync(time);
        var second = await StartSchedulerAsync(time, otherSettings);
        var slot = new DateTimeOffset(2026, 1, 1, 1, 0, 0, TimeSpan.Zero);
        await WaitUntilWaitingForAsync(first, slot);
        await WaitUntilWaitingForAsync(second, slot);
        time.Advance(TimeSpan.FromHours(1));

        Assert.Equal(["20260101T010000Z"], (await SnapshotRequestsAsync(1)).Select(r => r.SnapshotId));
        var other = await TestHosts.EventuallyAsync(() => Task.FromResult(otherReceived.OfType<SnapshotRequested>().FirstOrDefault()),
            TimeSpan.FromSeconds(30), "the other deployment's request of the same slot");
        Assert.Equal("20260101T010000Z", other.SnapshotId);
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

        foreach (var disposable in _disposables)
        {
            await disposable.DisposeAsync();
        }

        if (_vhost is not null)
        {
            await _vhost.DisposeAsync();
        }
    }
}
