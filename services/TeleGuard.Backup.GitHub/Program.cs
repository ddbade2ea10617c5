using TeleGuard.Backup.Destinations.GitHub;
using TeleGuard.Backup.Hosting;

var builder = WebApplication.CreateSlimBuilder(args);
builder.AddBackupDefaults();
builder.AddGitHubSinkService();
return await builder.RunBackupServiceAsync();
