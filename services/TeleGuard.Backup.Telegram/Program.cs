using TeleGuard.Backup.Destinations.Telegram;
using TeleGuard.Backup.Hosting;

var builder = WebApplication.CreateSlimBuilder(args);
builder.AddBackupDefaults();
builder.AddTelegramSinkService();
return await builder.RunBackupServiceAsync();
