using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Snapshot;

var builder = WebApplication.CreateSlimBuilder(args);
builder.AddBackupDefaults();
builder.AddSnapshotService();
return await builder.RunBackupServiceAsync();
