using System.Runtime.CompilerServices;

// The send queue and the conversation are internal; their unit tests live in the gateway's test project.
[assembly: InternalsVisibleTo("VoiceGateway.Tests")]
