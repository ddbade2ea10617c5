using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Scheduling;

var builder = WebApplication.CreateSlimBuilder(args);
builder.AddBackupDefaults();
builder.AddSchedulerService();
return await builder.RunBackupServiceAsync();
