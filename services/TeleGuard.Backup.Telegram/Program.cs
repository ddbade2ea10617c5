using TeleGuard.Backup.Hosting;
using TeleGuard.Backup.Telegram;

var builder = WebApplication.CreateSlimBuilder(args);
builder.AddBackupDefaults();
builder.AddTelegramSinkService();
return await builder.RunBackupServiceAsync();
