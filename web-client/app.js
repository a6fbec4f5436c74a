// VoiceAgent browser client (docs/protocol.md): microphone → 20 ms PCM16 frames at 16 kHz over /v1/voice; reply
// frames → a jitter-buffered AudioWorklet → the loudspeaker. Page state is mirrored in window.voiceAgent for
// automation (the browser tests read it) and the elements #connect, #status, #transcript, #reply, #latency.
//
// Echo: Chromium cancels echo only of audio it can use as the canceller's reference. Desktop Chromium with
// chrome-wide echo cancellation (the default on Linux, macOS and Windows) takes everything it plays to the output
// device; older builds, builds without it and Android only take audio rendered from an RTCPeerConnection's remote
// track. Playback therefore goes Web Audio → MediaStreamDestination → local RTCPeerConnection pair → <audio>, which
// both kinds cover; if the loopback cannot connect, it falls back to the AudioContext destination (?route=direct
// forces that). The server adds its own echo guard on top (see docs/protocol.md).

const RATE = 16000;
const FRAME_MS = 20;
// Microphone audio captured while the call is still being set up (worklets, WebRTC loopback, socket, hello) is kept
// and sent once the server is ready: a caller who starts talking the moment they click must not lose their first
// words, however slow the set-up. Bounded: beyond this much, the oldest frames go first.
const PRECONNECT_MS = 5000;
const params = new URLSearchParams(location.search);
const ui = Object.fromEntries(['connect', 'status', 'transcript', 'reply', 'latency', 'level', 'route']
  .map((id) => [id, document.getElementById(id)]));

const stats = {
  state: 'idle',
  route: null,
  framesSent: 0,
  framesDropped: 0,
  preconnectMs: 0, // microphone audio captured before the server was ready and sent when it was
  preconnectDroppedMs: 0, // pre-connect audio beyond PRECONNECT_MS (the oldest), never sent
  framesReceived: 0,
  bytesReceived: 0,
  replies: [],
  transcripts: [],
  bargeIns: [],
  callActions: [], // call_action events: the reply asked to hand the caller over or to end the conversation
  errors: [],
  latencies: [],
  playedSamples: 0, // every reply sample the playback worklet has output so far
  playedMs: 0,
  playing: false,
  playedPeak: 0,
  playedRms: 0,
  heardPeak: 0, // level measured after the playback route, i.e. what reaches the loudspeaker
  heardMs: 0,
  stoppedAt: null,
  underruns: 0,
  droppedMs: 0, // reply audio the worklet discarded because too much had piled up
  closeCode: null,
};
const events = [];
window.voiceAgent = { stats, events };

let socket = null;
let context = null;
let microphone = null;
let playback = null;
let loopback = null;
let ready = false;
let preconnect = []; // frames captured before 'ready', oldest first
let replyTurn = 0;
let playedBefore = 0; // samples of earlier turns
let lastReport = 0;
const turns = new Map(); // turn → { speechEnded, started, latency }

ui.connect.addEventListener('click', () => {
  if (socket) {
    disconnect();
  } else {
    connect().catch((error) => fail(`Could not start: ${error.message || error}`));
  }
});

function setStatus(text, state) {
  ui.status.textContent = text;
  ui.status.dataset.state = state;
  stats.state = state;
}

function fail(text) {
  setStatus(text, 'error');
  teardown();
}

async function connect() {
  ui.connect.disabled = true;
  setStatus('Starting audio…', 'starting');
  microphone = await navigator.mediaDevices.getUserMedia({
    audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
  });

  let source;
  context = await openContext({ sampleRate: RATE, latencyHint: 'interactive' });
  try {
    source = context.createMediaStreamSource(microphone);
  } catch {
    // Firefox cannot connect a microphone to a context at another rate: run at the device rate and resample.
    await context.close();
    context = await openContext({ latencyHint: 'interactive' });
    source = context.createMediaStreamSource(microphone);
  }

  const capture = new AudioWorkletNode(context, 'voice-capture', {
    numberOfOutputs: 0,
    processorOptions: { targetRate: RATE, frameMs: FRAME_MS },
  });
  capture.port.onmessage = ({ data }) => onMicrophoneFrame(data);
  source.connect(capture);

  playback = new AudioWorkletNode(context, 'voice-playback', {
    numberOfInputs: 0,
    outputChannelCount: [1],
    processorOptions: { inputRate: RATE, startMs: 80, maxMs: 1500, fadeMs: 5 },
  });
  playback.port.onmessage = ({ data }) => onPlayback(data);
  await routePlayback();
  await context.resume();
  openSocket();
  ui.connect.textContent = 'Hang up';
  ui.connect.disabled = false;
}

async function openContext(options) {
  const ctx = new AudioContext(options);
  await ctx.audioWorklet.addModule('capture-worklet.js');
  await ctx.audioWorklet.addModule('playback-worklet.js');
  return ctx;
}

async function routePlayback() {
  if (params.get('route') !== 'direct' && 'RTCPeerConnection' in window) {
    try {
      await routeThroughPeerConnection();
      stats.route = 'webrtc-loopback';
    } catch (error) {
      console.warn('WebRTC loopback unavailable, playing through Web Audio:', error);
    }
  }
  if (!stats.route) {
    playback.connect(context.destination);
    measureHeard(playback);
    stats.route = 'web-audio';
  }
  ui.route.textContent = `Playback route: ${stats.route}`;
}

async function routeThroughPeerConnection() {
  const destination = context.createMediaStreamDestination();
  playback.connect(destination);
  const sender = new RTCPeerConnection();
  const receiver = new RTCPeerConnection();
  loopback = { sender, receiver, audio: null };
  sender.onicecandidate = (e) => e.candidate && receiver.addIceCandidate(e.candidate);
  receiver.onicecandidate = (e) => e.candidate && sender.addIceCandidate(e.candidate);
  const remote = new Promise((resolve) => {
    receiver.ontrack = (e) => resolve(e.streams[0] || new MediaStream([e.track]));
  });
  const connected = new Promise((resolve, reject) => {
    receiver.oniceconnectionstatechange = () => {
      if (['connected', 'completed'].includes(receiver.iceConnectionState)) resolve();
      if (receiver.iceConnectionState === 'failed') reject(new Error('ICE failed'));
    };
  });
  sender.addTrack(destination.stream.getAudioTracks()[0], destination.stream);
  const offer = await sender.createOffer();
  await sender.setLocalDescription(offer);
  await receiver.setRemoteDescription(offer);
  const answer = await receiver.createAnswer();
  await receiver.setLocalDescription(answer);
  await sender.setRemoteDescription(answer);
  const stream = await withTimeout(remote, 3000, 'no remote track');
  await withTimeout(connected, 3000, 'the loopback did not connect');

  // The remote track must play through a media element: that is the render path the echo canceller references.
  const audio = new Audio();
  audio.srcObject = stream;
  audio.autoplay = true;
  await audio.play();
  loopback.audio = audio;
  measureHeard(context.createMediaStreamSource(stream));
}

function withTimeout(promise, ms, message) {
  return Promise.race([promise, new Promise((_, reject) => setTimeout(() => reject(new Error(message)), ms))]);
}

// Level after the route (what the loudspeaker receives), sampled every 50 ms.
function measureHeard(node) {
  const analyser = context.createAnalyser();
  analyser.fftSize = 1024;
  node.connect(analyser);
  const buffer = new Float32Array(analyser.fftSize);
  const timer = setInterval(() => {
    if (!context || context.state === 'closed') {
      clearInterval(timer);
      return;
    }
    analyser.getFloatTimeDomainData(buffer);
    let sum = 0;
    for (const v of buffer) sum += v * v;
    const rms = Math.sqrt(sum / buffer.length);
    stats.heardPeak = Math.max(stats.heardPeak, rms);
    if (rms > 0.003) stats.heardMs += 50;
  }, 50);
}

function openSocket() {
  const url = new URL('/v1/voice', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  if (params.get('token')) {
    url.searchParams.set('access_token', params.get('token'));
  }
  socket = new WebSocket(url);
  socket.binaryType = 'arraybuffer';
  socket.onopen = () => {
    setStatus('Connecting…', 'connecting');
    socket.send(JSON.stringify({ type: 'hello', sample_rate: RATE, output_sample_rate: RATE }));
  };
  socket.onmessage = (message) => {
    if (typeof message.data === 'string') {
      onEvent(JSON.parse(message.data));
    } else {
      onReplyAudio(message.data);
    }
  };
  socket.onclose = (e) => {
    stats.closeCode = e.code;
    if (stats.state !== 'error') {
      setStatus(e.code === 1000 ? 'Disconnected.' : `Disconnected (${e.code}${e.reason ? `: ${e.reason}` : ''}).`, e.code === 1000 ? 'idle' : 'error');
    }
    teardown();
  };
}

function onMicrophoneFrame({ pcm, level }) {
  ui.level.value = Math.min(1, level * 5);
  if (!microphone) {
    return;
  }
  if (!ready) {
    preconnect.push(pcm);
    if (preconnect.length * FRAME_MS > PRECONNECT_MS) {
      preconnect.shift();
      stats.preconnectDroppedMs += FRAME_MS;
    }
    return;
  }
  if (!socket || socket.readyState !== WebSocket.OPEN) {
    return;
  }
  // Never queue more than ~1 s locally: a stalled connection drops microphone audio instead of building delay.
  if (socket.bufferedAmount > RATE * 2) {
    stats.framesDropped++;
    return;
  }
  socket.send(pcm);
  stats.framesSent++;
}

function onReplyAudio(buffer) {
  stats.framesReceived++;
  stats.bytesReceived += buffer.byteLength;
  playback.port.postMessage({ type: 'audio', pcm: buffer }, [buffer]);
}

function turnRecord(turn) {
  if (!turns.has(turn)) turns.set(turn, {});
  return turns.get(turn);
}

function onEvent(e) {
  events.push(e);
  switch (e.type) {
    case 'ready':
      ready = true;
      for (const pcm of preconnect) {
        socket.send(pcm);
        stats.framesSent++;
        stats.preconnectMs += FRAME_MS;
      }
      preconnect = [];
      setStatus('Listening — speak now.', 'listening');
      break;
    case 'vad_start':
      setStatus('Hearing you…', 'hearing');
      break;
    case 'vad_end':
      turnRecord(e.turn).speechEnded = performance.now();
      setStatus('Thinking…', 'thinking');
      break;
    case 'transcript':
      ui.transcript.textContent = e.text;
      stats.transcripts.push(e.text);
      break;
    case 'reply_text_delta':
      if (e.turn !== replyTurn) {
        replyTurn = e.turn;
        ui.reply.textContent = '';
      }
      ui.reply.textContent += e.text;
      break;
    case 'reply_text_done':
      ui.reply.textContent = e.text;
      stats.replies.push(e.text);
      break;
    case 'reply_audio_start':
      playedBefore = stats.playedSamples;
      playback.port.postMessage({ type: 'start', turn: e.turn });
      setStatus('Speaking…', 'speaking');
      break;
    case 'reply_audio_end':
      // The turn's last frame has been sent: let the worklet play out a tail shorter than its start level.
      playback.port.postMessage({ type: 'end', turn: e.turn });
      break;
    case 'reply_done':
      break;
    case 'barge_in':
      // Stop at once: the worklet drops its buffer within one render quantum.
      playback.port.postMessage({ type: 'stop' });
      stats.bargeIns.push({ turn: e.turn, deliveredMs: e.delivered_ms, at: performance.now() });
      setStatus('Interrupted — listening.', 'hearing');
      break;
    case 'call_action':
      // Sent after the turn's reply_audio_end: the reply may still be playing, so only the status changes here and
      // the page (or its host) decides what a transfer or a hang-up means for a browser caller.
      stats.callActions.push({ turn: e.turn, action: e.action, target: e.target ?? null });
      setStatus(e.action === 'hangup'
        ? 'The agent ended the conversation.'
        : `The agent is handing you over${e.target ? ` to ${e.target}` : ''}.`, 'listening');
      break;
    case 'latency':
      turnRecord(e.turn).latency = e;
      stats.latencies.push(e);
      renderLatency();
      break;
    case 'error':
      stats.errors.push(e);
      if (e.fatal) {
        setStatus(`${e.code}: ${e.message}`, 'error');
      } else {
        console.warn('server error', e.code, e.message);
      }
      break;
    default:
      break;
  }
}

function onPlayback(data) {
  const rate = context ? context.sampleRate : RATE;
  if (data.type === 'stats') {
    stats.playedSamples = playedBefore + data.played;
    stats.playedMs = Math.round((stats.playedSamples * 1000) / rate);
    stats.playing = data.playing;
    stats.underruns = data.underruns;
    stats.droppedMs = Math.round((data.dropped * 1000) / rate);
    stats.playedPeak = data.peak;
    stats.playedRms = stats.playedSamples > 0 ? Math.sqrt(data.sumSquares / stats.playedSamples) : 0;
    const now = performance.now();
    // Tell the server what was really heard, so a barge-in keeps exactly that in the conversation.
    if (data.turn > 0 && socket && socket.readyState === WebSocket.OPEN && now - lastReport > 200) {
      lastReport = now;
      socket.send(JSON.stringify({ type: 'playback', turn: data.turn, played_ms: Math.round((data.played * 1000) / rate) }));
    }
    if (!data.playing && stats.state === 'speaking' && data.buffered === 0) {
      setStatus('Listening — speak now.', 'listening');
    }
  } else if (data.type === 'started') {
    const record = turnRecord(data.turn);
    record.started ??= performance.now();
    renderLatency();
  } else if (data.type === 'stopped') {
    stats.stoppedAt = performance.now();
    stats.playing = false;
  }
}

// One line per turn: the server's own figures, and what this page measured from the end of speech to the first
// reply sound leaving the jitter buffer.
function renderLatency() {
  const lines = [];
  for (const [turn, record] of [...turns.entries()].sort((a, b) => a[0] - b[0])) {
    if (!record.latency) continue;
    const l = record.latency;
    const heard = record.started && record.speechEnded ? `${Math.round(record.started - record.speechEnded)} ms` : '–';
    lines.push(`turn ${turn}: end of speech → first audio ${heard} measured here; server: first audio frame ${fmt(l.first_audio_frame_ms)}, first text ${fmt(l.first_text_token_ms)}, turn ended ${fmt(l.vad_commit_ms)} into the pause (${l.end_of_turn ?? 'silence'})`);
  }
  ui.latency.textContent = lines.join('\n');
}

function fmt(ms) {
  return ms == null ? '–' : `${Math.round(ms)} ms`;
}

function disconnect() {
  if (socket && socket.readyState === WebSocket.OPEN) {
    socket.close(1000, 'hang up');
  }
  teardown();
}

function teardown() {
  ready = false;
  preconnect = [];
  socket = null;
  if (microphone) microphone.getTracks().forEach((t) => t.stop());
  microphone = null;
  if (loopback) {
    loopback.sender.close();
    loopback.receiver.close();
    if (loopback.audio) loopback.audio.srcObject = null;
  }
  loopback = null;
  if (context && context.state !== 'closed') context.close();
  context = null;
  ui.connect.textContent = 'Connect';
  ui.connect.disabled = false;
  ui.level.value = 0;
}
