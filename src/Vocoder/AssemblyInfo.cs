using System.Runtime.CompilerServices;

// Part 2 of the engine: flow-matching detokenizer, BigVGAN vocoder, chunk stitching (docs/vocoder.md).
[assembly: System.CLSCompliant(false)]
[assembly: InternalsVisibleTo("Vocoder.Tests")]
