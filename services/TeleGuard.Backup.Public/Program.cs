using TeleGuard.Backup.Destinations.Public;
using TeleGuard.Backup.Hosting;

var builder = WebApplication.CreateSlimBuilder(args);
builder.AddBackupDefaults();
builder.AddPublicSinkService();
return await builder.RunBackupServiceAsync();
