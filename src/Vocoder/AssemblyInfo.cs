// The vocoder stages (flow-matching detokenizer, BigVGAN vocoder, chunk stitching) arrive with the demo pack part 2.
// Until then this assembly only anchors the project graph: Gateway -> StreamingEngine -> Vocoder -> Core.
[assembly: System.CLSCompliant(false)]
