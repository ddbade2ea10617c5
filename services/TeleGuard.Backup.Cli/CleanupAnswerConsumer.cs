using System.Threading.Channels;
using MassTransit;
using TeleGuard.Backup.Contracts;

namespace TeleGuard.Backup.Cli;

/// <summary>Hands each <see cref="CleanupCompleted"/> to the waiting <c>cleanup --wait</c>.</summary>
public sealed class CleanupAnswerConsumer(ChannelWriter<CleanupCompleted> answers) : IConsumer<CleanupCompleted>
{
    public async Task Consume(ConsumeContext<CleanupCompleted> context) => await answers.WriteAsync(context.Message, context.CancellationToken);
}
