// HeartMuLa web UI: plain modern JavaScript, no build step. Talks to the REST API with a bearer
// token (kept in localStorage) and to /ws/progress for live progress and live audio.
'use strict';

const $ = (s) => document.querySelector(s);
const state = { token: localStorage.getItem('hm_token'), tags: [], continueFrom: null, offset: 0, ws: null,
  audio: null, live: new Map() };
// What the page received and played, in order (read by the browser test; a few hundred entries at most).
const hmTest = window.hmTest = { events: [], chunks: [] };
window.hmTestAudioState = () => (state.audio ? { state: state.audio.state, time: state.audio.currentTime } : null);
function note(list, item) { if (list.length < 500) list.push(Object.assign({ t: performance.now() }, item)); }

function showError(msg) {
  const e = $('#error');
  e.textContent = msg || '';
  e.hidden = !msg;
}

async function api(method, path, body) {
  const headers = {};
  if (state.token) headers.Authorization = 'Bearer ' + state.token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  if (r.status === 204) return null;
  let data = null;
  try { data = await r.json(); } catch (_) { /* not JSON */ }
  if (!r.ok) {
    if (r.status === 401 && state.token && !path.startsWith('/api/auth/login')) { logout(false); }
    const err = data && data.error ? data.error : { message: 'HTTP ' + r.status };
    const wait = r.headers.get('Retry-After');
    throw new Error(err.message + (err.field ? ' (' + err.field + ')' : '') + (wait ? ' — retry in ' + wait + ' s' : ''));
  }
  return data;
}

function el(tag, props, ...kids) {
  const e = document.createElement(tag);
  Object.assign(e, props || {});
  for (const k of kids) if (k != null) e.append(k);
  return e;
}

// ---- accounts ----
async function enter() {
  try {
    const me = await api('GET', '/api/auth/me');
    $('#who-name').textContent = me.username;
    $('#who').hidden = false;
    $('#auth-view').hidden = true;
    $('#app-view').hidden = false;
    connectSocket();
    refreshQueue();
    loadHistory(true);
    loadFeatures();
    loadTranscriptions();
  } catch (e) { logout(false); }
}

function logout(callServer) {
  if (callServer && state.token) api('POST', '/api/auth/logout').catch(() => {});
  state.token = null;
  localStorage.removeItem('hm_token');
  if (state.ws) { state.ws.onclose = null; state.ws.close(); state.ws = null; }
  $('#who').hidden = true;
  $('#app-view').hidden = true;
  $('#auth-view').hidden = false;
}

$('#login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  try {
    const r = await api('POST', '/api/auth/login', { username: f.get('username'), password: f.get('password') });
    state.token = r.access_token;
    localStorage.setItem('hm_token', state.token);
    showError('');
    enter();
  } catch (e) { showError(e.message); }
});

$('#register-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  try {
    await api('POST', '/api/auth/register', { username: f.get('username'), email: f.get('email'), password: f.get('password') });
    const r = await api('POST', '/api/auth/login', { username: f.get('username'), password: f.get('password') });
    state.token = r.access_token;
    localStorage.setItem('hm_token', state.token);
    showError('');
    enter();
  } catch (e) { showError(e.message); }
});
$('#logout').addEventListener('click', () => logout(true));

// ---- create form: markers, tag chips ----
document.querySelectorAll('[data-marker]').forEach((b) => b.addEventListener('click', () => {
  const ta = document.querySelector('textarea[name=lyrics]');
  const at = ta.selectionStart, text = ta.value;
  const ins = (at > 0 && text[at - 1] !== '\n' ? '\n' : '') + b.dataset.marker + '\n';
  ta.value = text.slice(0, at) + ins + text.slice(ta.selectionEnd);
  ta.focus();
  ta.selectionStart = ta.selectionEnd = at + ins.length;
}));

function renderTags() {
  const box = $('#tags');
  box.replaceChildren(...state.tags.map((t) => {
    const b = el('button', { type: 'button', textContent: t + ' ×', title: 'Remove ' + t });
    b.setAttribute('aria-label', 'Remove tag ' + t);
    b.addEventListener('click', () => { state.tags = state.tags.filter((x) => x !== t); renderTags(); });
    return b;
  }));
}
$('#tag-input').addEventListener('keydown', (ev) => {
  if (ev.key !== 'Enter' && ev.key !== ',') return;
  ev.preventDefault();
  const v = ev.target.value.trim().toLowerCase().replace(/,/g, '');
  if (v && !state.tags.includes(v)) state.tags.push(v);
  ev.target.value = '';
  renderTags();
});

$('#continue-clear').addEventListener('click', () => { state.continueFrom = null; $('#continue-note').hidden = true; });

$('#gen-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  const pending = $('#tag-input').value.trim();
  if (pending && !state.tags.includes(pending)) { state.tags.push(pending.toLowerCase()); $('#tag-input').value = ''; renderTags(); }
  const body = { lyrics: f.get('lyrics'), tags: state.tags.join(','), format: f.get('format'),
    max_audio_length_ms: Math.round(Number(f.get('length')) * 1000), topk: Number(f.get('topk')),
    temperature: Number(f.get('temperature')), cfg_scale: Number(f.get('cfg_scale')), codec_steps: Number(f.get('codec_steps')) };
  if (f.get('title')) body.title = f.get('title');
  if (f.get('seed') !== '') body.seed = Number(f.get('seed'));
  if (state.continueFrom) body.continue_from = state.continueFrom;
  if ($('#live').checked) ensureAudio(); // a user gesture: the AudioContext may start now
  try {
    await api('POST', '/api/generate', body);
    showError('');
    refreshQueue();
  } catch (e) { showError(e.message); }
});

// ---- queue ----
const progress = new Map(); // id -> {stage, done, total, eta_s}

async function refreshQueue() {
  if (!state.token) return;
  try {
    const q = await api('GET', '/api/queue');
    const ul = $('#queue');
    ul.replaceChildren(...q.items.map((it) => {
      const p = progress.get(it.id) || it;
      const bar = el('progress', { max: p.total || 1, value: p.done || 0 });
      bar.setAttribute('aria-label', 'Progress of ' + it.title);
      const info = it.status === 'queued' ? 'queued, position ' + (it.position + 1)
        : (p.stage || 'starting') + ' ' + (p.done || 0) + '/' + (p.total || '?') + (p.eta_s != null ? ', about ' + Math.ceil(p.eta_s) + ' s left' : '');
      const cancel = el('button', { type: 'button', className: 'secondary', textContent: 'Cancel' });
      cancel.addEventListener('click', async () => {
        try { await api('DELETE', '/api/queue/' + it.id); refreshQueue(); loadHistory(true); } catch (e) { showError(e.message); }
      });
      const li = el('li', {}, el('strong', { textContent: it.title }), ' ', el('span', { className: 'muted', textContent: info }), bar, cancel);
      li.id = 'q-' + it.id;
      return li;
    }));
    $('#queue-empty').hidden = q.items.length > 0;
  } catch (e) { showError(e.message); }
}

// ---- live progress and live audio over the socket ----
function connectSocket() {
  if (state.ws) return;
  const ws = new WebSocket((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws/progress');
  ws.binaryType = 'arraybuffer';
  state.ws = ws;
  ws.onopen = () => ws.send(JSON.stringify({ token: state.token }));
  ws.onmessage = (m) => {
    if (typeof m.data !== 'string') { note(hmTest.events, { type: 'binary', bytes: m.data.byteLength }); playChunk(m.data); return; }
    let ev;
    try { ev = JSON.parse(m.data); } catch (_) { return; }
    note(hmTest.events, { type: ev.type, id: ev.id, stage: ev.stage });
    if (ev.type === 'progress') {
      progress.set(ev.id, ev);
      const li = document.getElementById('q-' + ev.id);
      if (li) {
        const bar = li.querySelector('progress'), info = li.querySelector('.muted');
        bar.max = ev.total || 1; bar.value = ev.done;
        info.textContent = ev.stage + ' ' + ev.done + '/' + ev.total + (ev.eta_s != null ? ', about ' + Math.ceil(ev.eta_s) + ' s left' : '');
      }
    } else if (ev.type === 'transcription') {
      if (ev.status !== 'running' || ev.done === undefined) loadTranscriptions();
      else { const s = document.querySelector('#tr-' + ev.id + ' .muted'); if (s) s.textContent = 'running ' + ev.done + '/' + ev.total; }
    } else if (['queued', 'started'].includes(ev.type)) {
      refreshQueue();
    } else if (['finished', 'failed', 'cancelled'].includes(ev.type)) {
      progress.delete(ev.id);
      state.live.delete(ev.id);
      if (ev.type === 'failed') showError('A song failed: ' + ev.error);
      refreshQueue();
      loadHistory(true);
    }
  };
  ws.onclose = () => { state.ws = null; if (state.token) setTimeout(connectSocket, 2000); };
}

function ensureAudio() {
  if (!state.audio) state.audio = new AudioContext();
  if (state.audio.state === 'suspended') state.audio.resume();
  return state.audio;
}

// binary frame: "HMA1", id (32 ASCII), first_sample u64, rate u32, channels u32, frames u32, int16 LE interleaved
function playChunk(buf) {
  if (!$('#live').checked || !state.audio || buf.byteLength < 56) return;
  const v = new DataView(buf);
  if (String.fromCharCode(v.getUint8(0), v.getUint8(1), v.getUint8(2), v.getUint8(3)) !== 'HMA1') return;
  const id = new TextDecoder().decode(new Uint8Array(buf, 4, 32));
  const rate = v.getUint32(44, true), ch = v.getUint32(48, true), n = v.getUint32(52, true);
  if (ch !== 2 || buf.byteLength < 56 + n * 4) return;
  const ctx = state.audio;
  const ab = ctx.createBuffer(2, n, rate);
  const pcm = new Int16Array(buf.slice(56, 56 + n * 4));
  const l = ab.getChannelData(0), r = ab.getChannelData(1);
  for (let i = 0; i < n; i++) { l[i] = pcm[2 * i] / 32768; r[i] = pcm[2 * i + 1] / 32768; }
  const src = ctx.createBufferSource();
  src.buffer = ab;
  src.connect(ctx.destination);
  const at = Math.max(ctx.currentTime + 0.05, state.live.get(id) || 0);
  src.start(at);
  state.live.set(id, at + n / rate);
  note(hmTest.chunks, { id, first: Number(v.getBigUint64(36, true)), frames: n, at, state: ctx.state });
}

// ---- what this server offers (AI, transcription) ----
const features = { ai: false, transcription: false };
async function loadFeatures() {
  try {
    const s = await api('GET', '/api/status');
    features.ai = !!s.ai;
    features.transcription = !!s.transcription;
  } catch (_) { /* keep them off */ }
  $('#ai-box').hidden = !features.ai;
  $('#tr-off').hidden = features.transcription;
  $('#tr-form').hidden = !features.transcription;
  document.querySelectorAll('button.ai-cover').forEach((b) => { b.hidden = !features.ai; });
}

$('#ai-lyrics').addEventListener('click', async (ev) => {
  const b = ev.target, prompt = $('#ai-prompt').value.trim();
  if (!prompt) { showError('Describe the song first (AI lyrics)'); $('#ai-prompt').focus(); return; }
  b.disabled = true; b.textContent = 'Writing…';
  try {
    const body = { prompt };
    if (state.tags.length) body.tags = state.tags.join(',');
    const title = document.querySelector('#gen-form input[name=title]').value.trim();
    if (title) body.title = title;
    const r = await api('POST', '/api/ai/lyrics', body);
    document.querySelector('textarea[name=lyrics]').value = r.lyrics;
    showError('');
  } catch (e) { showError(e.message); } finally { b.disabled = false; b.textContent = 'Write lyrics with AI'; }
});

// ---- transcription ----
async function download(path, name) {
  try {
    const r = await fetch(path, { headers: { Authorization: 'Bearer ' + state.token } });
    if (!r.ok) throw new Error('HTTP ' + r.status);
    const url = URL.createObjectURL(await r.blob());
    const a = el('a', { href: url, download: name });
    document.body.append(a); a.click(); a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  } catch (e) { showError('Download failed: ' + e.message); }
}

async function loadTranscriptions() {
  if (!state.token) return;
  try {
    const r = await api('GET', '/api/transcribe');
    const items = await Promise.all(r.items.slice(0, 10).map(async (it) => {
      const li = el('li', {}, el('strong', { textContent: it.filename }), ' ', el('span', { className: 'muted', textContent: it.status + (it.error ? ': ' + it.error : '') }));
      li.id = 'tr-' + it.id;
      if (it.status === 'done') {
        const full = await api('GET', '/api/transcribe/' + it.id);
        li.append(el('pre', { className: 'tr-lines', textContent: full.result.lrc }));
        const base = (it.filename || 'transcript').replace(/\.[^.]*$/, '');
        const acts = el('div', { className: 'actions' });
        for (const f of ['lrc', 'srt', 'vtt', 'txt']) {
          const b = el('button', { type: 'button', className: 'secondary', textContent: f.toUpperCase() });
          b.setAttribute('aria-label', 'Download ' + f.toUpperCase() + ' of ' + it.filename);
          b.addEventListener('click', () => download('/api/transcribe/' + it.id + '?format=' + f, base + '.' + f));
          acts.append(b);
        }
        li.append(acts);
      }
      const del = el('button', { type: 'button', className: 'secondary', textContent: it.status === 'queued' || it.status === 'running' ? 'Cancel' : 'Remove' });
      del.addEventListener('click', async () => { try { await api('DELETE', '/api/transcribe/' + it.id); loadTranscriptions(); } catch (e) { showError(e.message); } });
      li.append(del);
      return li;
    }));
    $('#tr-list').replaceChildren(...items);
  } catch (e) { showError(e.message); }
}

$('#tr-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const fd = new FormData(ev.target);
  try {
    const r = await fetch('/api/transcribe', { method: 'POST', headers: { Authorization: 'Bearer ' + state.token }, body: fd });
    const data = await r.json().catch(() => null);
    if (!r.ok) throw new Error(data && data.error ? data.error.message + (data.error.field ? ' (' + data.error.field + ')' : '') : 'HTTP ' + r.status);
    showError('');
    ev.target.reset();
    loadTranscriptions();
  } catch (e) { showError(e.message); }
});

// ---- history ----
async function drawWave(canvas, url) {
  try {
    const data = await (await fetch(url)).arrayBuffer();
    const buf = await new OfflineAudioContext(2, 1, 48000).decodeAudioData(data); // decoding only: nothing plays
    const ch = buf.getChannelData(0), w = canvas.width = canvas.clientWidth || 300, h = canvas.height = 48;
    const g = canvas.getContext('2d'), step = Math.max(1, Math.floor(ch.length / w));
    g.fillStyle = '#e0457b';
    for (let x = 0; x < w; x++) {
      let e = 0, k = 0; // RMS per column (peaks of noise or loud music fill the whole height)
      for (let i = x * step; i < Math.min(ch.length, (x + 1) * step); i++, k++) e += ch[i] * ch[i];
      const m = Math.min(1, 1.4 * Math.sqrt(k ? e / k : 0));
      g.fillRect(x, h / 2 - m * h / 2, 1, Math.max(1, m * h));
    }
    canvas.dataset.drawn = 'done';
  } catch (_) { canvas.dataset.drawn = 'failed'; /* a waveform is decoration */ }
}

function card(it) {
  const c = el('article', { className: 'song' });
  c.dataset.id = it.id;
  if (it.thumbnail_url) c.append(el('img', { className: 'thumb', src: it.thumbnail_url, alt: 'Spectrogram of ' + it.title, width: 640, height: 240 }));
  c.append(el('h3', { textContent: it.title }),
    el('div', { className: 'muted', textContent: [it.tags, it.status, it.duration_ms ? (it.duration_ms / 1000).toFixed(1) + ' s' : null, it.format, new Date(it.created_at).toLocaleString()].filter(Boolean).join(' · ') }));
  const actions = el('div', { className: 'actions' });
  if (it.status === 'done' && it.audio_url) {
    const canvas = el('canvas');
    const audio = el('audio', { controls: true, preload: 'none', src: it.audio_url });
    audio.addEventListener('play', () => { if (!canvas.dataset.drawn) { canvas.dataset.drawn = '1'; drawWave(canvas, it.audio_url); } }, { once: true });
    c.append(canvas, audio);
    const dl = el('a', { href: it.audio_url, textContent: 'Download' });
    dl.setAttribute('download', (it.title || 'song') + '.' + it.format);
    const cont = el('button', { type: 'button', className: 'secondary', textContent: 'Continue this song' });
    cont.addEventListener('click', () => {
      state.continueFrom = it.id;
      $('#continue-title').textContent = it.title;
      $('#continue-note').hidden = false;
      document.querySelector('textarea[name=lyrics]').focus();
    });
    const cover = el('button', { type: 'button', className: 'secondary ai-cover', textContent: 'AI cover', hidden: !features.ai });
    cover.addEventListener('click', async () => {
      cover.disabled = true; cover.textContent = 'Painting…';
      try { await api('POST', '/api/ai/thumbnail', { id: it.id }); loadHistory(true); } catch (e) { showError(e.message); cover.disabled = false; cover.textContent = 'AI cover'; }
    });
    actions.append(dl, cont, cover);
  }
  const del = el('button', { type: 'button', className: 'secondary delete', textContent: 'Delete' });
  del.setAttribute('aria-label', 'Delete ' + it.title);
  del.addEventListener('click', async () => {
    if (!confirm('Delete "' + it.title + '"?')) return;
    try { await api('DELETE', '/api/history/' + it.id); loadHistory(true); refreshQueue(); } catch (e) { showError(e.message); }
  });
  actions.append(del);
  c.append(actions);
  return c;
}

let historySeq = 0;
async function loadHistory(reset) {
  if (reset) state.offset = 0;
  const q = $('#search').value.trim();
  const seq = ++historySeq;
  hmTest.loading = true;
  try {
    const r = await api('GET', '/api/history?limit=20&offset=' + state.offset + (q ? '&q=' + encodeURIComponent(q) : ''));
    if (seq !== historySeq) return; // a newer search is on its way: its answer wins
    const box = $('#history');
    const cards = r.items.map(card);
    if (reset) box.replaceChildren(...cards); else box.append(...cards);
    state.offset += r.items.length;
    $('#more').hidden = state.offset >= r.total;
    const empty = $('#history-empty');
    empty.textContent = q ? 'No songs match "' + q + '".' : 'No songs yet: create one above.';
    empty.hidden = r.total > 0;
  } catch (e) { showError(e.message); } finally { if (seq === historySeq) hmTest.loading = false; }
}
$('#search-form').addEventListener('submit', (ev) => { ev.preventDefault(); loadHistory(true); });
let searchTimer = null;
$('#search').addEventListener('input', () => { clearTimeout(searchTimer); searchTimer = setTimeout(() => loadHistory(true), 300); });
$('#more').addEventListener('click', () => loadHistory(false));

setInterval(() => { if (state.token && !$('#app-view').hidden) refreshQueue(); }, 5000);
if (state.token) enter(); else logout(false);
