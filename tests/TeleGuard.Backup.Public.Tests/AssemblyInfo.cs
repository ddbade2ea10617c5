using System.Diagnostics.CodeAnalysis;

// "Public" is a keyword only in Visual Basic; this namespace is consumed from C# only, where it names the public encrypted destination.
[assembly: SuppressMessage("Naming", "CA1716:Identifiers should not match keywords", Scope = "namespace",
    Target = "~N:TeleGuard.Backup.Public.Tests", Justification = "Consumed from C# only; names the public destination.")]
