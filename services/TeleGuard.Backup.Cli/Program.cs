using TeleGuard.Backup.Cli;

return await CommandLine.RunAsync(args);
