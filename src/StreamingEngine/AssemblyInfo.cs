using System.Runtime.CompilerServices;

// The session tests check worker lifetimes (VoiceSession.ActiveSpeechWorkers) that are not part of the public API.
[assembly: InternalsVisibleTo("StreamingEngine.Tests")]
