// The web UI's whole flow in headless Chromium (Debian `chromium`, driven by playwright-core):
// register, generate, watch progress, hear live audio start (the page's AudioContext is fed before
// the job's "finished" event), play the finished song, search the history, delete; screenshots of
// each step. Usage: node flow.js BASE_URL SHOT_DIR [CHROMIUM]
'use strict';
const { chromium } = require('playwright-core');
const fs = require('fs');
const path = require('path');

const [base, shots, exe] = process.argv.slice(2);
const executablePath = exe || '/usr/bin/chromium';
fs.mkdirSync(shots, { recursive: true });
let failures = 0, passes = 0;
function check(what, cond, detail) {
  if (cond) { passes++; return; }
  failures++;
  console.log('FAIL: ' + what + (detail !== undefined ? ': ' + JSON.stringify(detail) : ''));
}
const t0 = Date.now();
const log = (m) => console.log(((Date.now() - t0) / 1000).toFixed(1) + ' s  ' + m);

(async () => {
  const browser = await chromium.launch({ executablePath, headless: true,
    args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required', '--mute-audio'] });
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = await ctx.newPage();
  const consoleErrors = [];
  const badResponses = [];
  // the flow's own error cases: a wrong login (401) and the deleted song (404)
  const expected = (r) => (r.status() === 401 && r.url().endsWith('/api/auth/login')) || (r.status() === 404 && /\/api\/history\/[0-9a-f]{32}$/.test(r.url()));
  page.on('response', (r) => { if (r.status() >= 400 && !expected(r)) badResponses.push(r.status() + ' ' + r.url()); });
  page.on('console', (m) => { if (m.type() === 'error' && !/^Failed to load resource/.test(m.text())) consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push('pageerror: ' + e.message));
  page.on('dialog', (d) => d.accept());
  const shot = async (name, p = page) => { await p.screenshot({ path: path.join(shots, name + '.png'), fullPage: true }); log('screenshot ' + name); };

  // ---- login / register ----
  await page.goto(base + '/');
  await page.waitForSelector('#auth-view:not([hidden])');
  check('app view hidden before login', !(await page.isVisible('#app-view')));
  check('login form visible', await page.isVisible('#login-form'));
  await shot('01-login');
  // a wrong login shows the API's message
  await page.fill('#login-form input[name=username]', 'nobody');
  await page.fill('#login-form input[name=password]', 'wrong password');
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('#error:not([hidden])');
  check('login error shown', /wrong username or password/.test(await page.textContent('#error')), await page.textContent('#error'));
  await page.fill('#register-form input[name=username]', 'browser_user');
  await page.fill('#register-form input[name=email]', 'browser@example.org');
  await page.fill('#register-form input[name=password]', 'browser password 1');
  await page.click('#register-form button[type=submit]');
  await page.waitForSelector('#app-view:not([hidden])');
  check('auth view hidden after register', !(await page.isVisible('#auth-view')));
  check('error cleared', !(await page.isVisible('#error')));
  check('user name shown', (await page.textContent('#who-name')) === 'browser_user');
  log('registered');

  // ---- create: markers, lyrics, tag chips, settings ----
  await page.fill('#gen-form input[name=title]', 'Lighthouse Waltz');
  await page.click('[data-marker="[Verse]"]');
  await page.keyboard.type('a lamp above the harbour\n');
  await page.click('[data-marker="[Chorus]"]');
  await page.keyboard.type('turn, turn the light');
  const lyrics = await page.inputValue('textarea[name=lyrics]');
  check('section markers inserted', lyrics === '[Verse]\na lamp above the harbour\n[Chorus]\nturn, turn the light', lyrics);
  await page.fill('#tag-input', 'Piano');
  await page.press('#tag-input', 'Enter');
  await page.fill('#tag-input', 'waltz');
  await page.press('#tag-input', 'Enter');
  check('tag chips', (await page.$$eval('#tags button', (b) => b.map((x) => x.textContent))).join('|') === 'piano ×|waltz ×');
  await page.fill('#gen-form input[name=length]', '2');
  await page.fill('#gen-form input[name=seed]', '11');
  await page.click('#gen-form summary');
  await page.fill('#gen-form input[name=codec_steps]', '1');
  await shot('02-create');

  // ---- generate, progress, live audio ----
  await page.click('#gen-form button[type=submit]');
  await page.waitForSelector('#queue li', { timeout: 20000 });
  const qtext = await page.textContent('#queue li');
  check('queue lists the job', /Lighthouse Waltz/.test(qtext), qtext);
  await shot('03-queue');
  await page.waitForFunction(() => window.hmTest.events.some((e) => e.type === 'progress'), null, { timeout: 60000 });
  log('progress events arrive');
  // the progress bar moves (the socket's progress events update it)
  const bar = await page.$('#queue li progress');
  if (bar) {
    const v = await bar.evaluate((b) => ({ value: b.value, max: b.max }));
    check('progress bar has a total', v.max >= 1, v);
    await shot('04-progress');
  }
  await page.waitForFunction(() => window.hmTest.events.some((e) => e.type === 'finished'), null, { timeout: 90000 });
  log('finished');
  const rec = await page.evaluate(() => ({ events: window.hmTest.events, chunks: window.hmTest.chunks }));
  const finished = rec.events.find((e) => e.type === 'finished');
  const id = finished.id;
  const started = rec.events.find((e) => e.type === 'started' && e.id === id);
  const stages = [...new Set(rec.events.filter((e) => e.type === 'progress' && e.id === id).map((e) => e.stage))];
  check('started event', !!started);
  check('progress through the LM and the codec', stages.includes('lm') && stages.includes('codec'), stages);
  const fed = rec.chunks.filter((c) => c.id === id);
  check('live audio: the AudioContext was fed', fed.length >= 1, rec.chunks);
  check('live audio: first chunk before the job finished', fed.length >= 1 && fed[0].t < finished.t, { fed, finished });
  check('live audio: first chunk starts the song', fed.length >= 1 && fed[0].first === 0 && fed[0].frames > 0, fed[0]);
  const actx = await page.evaluate(() => new Promise((res) => setTimeout(() => res({ state: window.hmTestAudioState && window.hmTestAudioState() }), 300)));
  check('AudioContext running and advancing', actx.state && actx.state.state === 'running' && actx.state.time > 0, actx);

  // ---- history: the card, play the finished file ----
  const card = `#history article[data-id="${id}"]`;
  await page.waitForSelector(card + ' audio', { timeout: 20000 });
  check('queue empty again', await page.isVisible('#queue-empty'));
  const thumb = await page.$(card + ' img.thumb');
  if (thumb) {
    await page.waitForFunction((sel) => { const i = document.querySelector(sel); return i && i.complete && i.naturalWidth > 0; }, card + ' img.thumb', { timeout: 10000 });
    check('thumbnail loaded', true);
  } else check('thumbnail shown on the card', false);
  const played = await page.$eval(card + ' audio', (a) => new Promise((res) => {
    const done = (ok, why) => res({ ok, why, t: a.currentTime, d: a.duration, err: a.error && a.error.code });
    a.addEventListener('error', () => done(false, 'error'), { once: true });
    a.addEventListener('timeupdate', () => { if (a.currentTime > 0) done(true, 'timeupdate'); });
    a.addEventListener('ended', () => done(a.currentTime > 0, 'ended'), { once: true });
    a.play().catch((e) => done(false, String(e)));
    setTimeout(() => done(false, 'timeout'), 15000);
  }));
  check('the finished song plays', played.ok, played);
  check('song duration about 2 s', played.d > 1 && played.d < 3.5, played);
  await page.waitForFunction((sel) => document.querySelector(sel).dataset.drawn === 'done', card + ' canvas', { timeout: 15000 })
    .then(() => check('waveform drawn', true), () => check('waveform drawn', false));
  await shot('05-history-playing');

  // ---- search ----
  await page.fill('#search', 'lighthouse');
  await page.waitForFunction(() => document.querySelectorAll('#history article').length === 1 && !window.hmTest.loading, null, { timeout: 10000 });
  check('search by title finds it', (await page.$$(card)).length === 1);
  await page.fill('#search', 'harbour');
  await page.waitForTimeout(600);
  await page.waitForFunction(() => !window.hmTest.loading);
  check('search by lyrics finds it', (await page.$$(card)).length === 1);
  await page.fill('#search', 'polka');
  await page.waitForFunction(() => document.querySelectorAll('#history article').length === 0 && !window.hmTest.loading, null, { timeout: 10000 })
    .then(() => check('search without hits shows nothing', true), () => check('search without hits shows nothing', false));
  check('empty search says so', await page.isVisible('#history-empty'));
  await shot('06-search-none');
  await page.fill('#search', '');
  await page.waitForSelector(card, { timeout: 10000 });

  // ---- transcribe: upload a WAV, timed lyrics, LRC download ----
  check('transcription offered', await page.isVisible('#tr-form') && !(await page.isVisible('#tr-off')));
  check('AI lyrics hidden when not configured', !(await page.isVisible('#ai-box')));
  const wav = (() => { // 1 s of a 440 Hz tone, 16 kHz mono 16-bit
    const n = 16000, b = Buffer.alloc(44 + 2 * n);
    b.write('RIFF', 0); b.writeUInt32LE(36 + 2 * n, 4); b.write('WAVEfmt ', 8); b.writeUInt32LE(16, 16);
    b.writeUInt16LE(1, 20); b.writeUInt16LE(1, 22); b.writeUInt32LE(16000, 24); b.writeUInt32LE(32000, 28);
    b.writeUInt16LE(2, 32); b.writeUInt16LE(16, 34); b.write('data', 36); b.writeUInt32LE(2 * n, 40);
    for (let i = 0; i < n; i++) b.writeInt16LE(Math.round(8000 * Math.sin(2 * Math.PI * 440 * i / 16000)), 44 + 2 * i);
    return b;
  })();
  await page.setInputFiles('#tr-form input[type=file]', { name: 'tone.wav', mimeType: 'audio/wav', buffer: wav });
  await page.click('#tr-form button[type=submit]');
  await page.waitForSelector('#tr-list li', { timeout: 10000 });
  await page.waitForSelector('#tr-list li pre.tr-lines', { timeout: 90000 });
  const lrc = await page.textContent('#tr-list li pre.tr-lines');
  check('timed lyrics shown (LRC)', /^\[\d\d:\d\d\.\d\d\]/.test(lrc), lrc.slice(0, 80));
  const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 10000 }), page.click('#tr-list li button[aria-label^="Download LRC"]')]);
  check('LRC download named after the upload', dl.suggestedFilename() === 'tone.lrc', dl.suggestedFilename());
  const dlPath = await dl.path();
  check('LRC download holds the transcript', fs.readFileSync(dlPath, 'utf8') === lrc);
  await shot('07-transcribe');

  // ---- phone-sized screen ----
  const phone = await ctx.newPage();
  await phone.setViewportSize({ width: 390, height: 844 });
  await phone.goto(base + '/');
  await phone.waitForSelector('#app-view:not([hidden])');
  await phone.waitForSelector(card);
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check('no horizontal scrolling on a phone', overflow <= 1, overflow);
  await shot('08-phone', phone);
  await phone.close();

  // ---- delete ----
  await page.click(card + ' button.delete');
  await page.waitForSelector(card, { state: 'detached', timeout: 10000 });
  const token = await page.evaluate(() => localStorage.getItem('hm_token'));
  const r = await page.evaluate(async ([id, token]) => (await fetch('/api/history/' + id, { headers: { Authorization: 'Bearer ' + token } })).status, [id, token]);
  check('deleted on the server', r === 404, r);
  await shot('09-deleted');

  // ---- log out ----
  await page.click('#logout');
  await page.waitForSelector('#auth-view:not([hidden])');
  check('logged out', !(await page.isVisible('#app-view')));
  check('no console errors', consoleErrors.length === 0, consoleErrors);
  check('no unexpected HTTP errors', badResponses.length === 0, badResponses);
  await browser.close();
  log(`browser flow: ${passes} passed, ${failures} failed`);
  process.exit(failures ? 1 : 0);
})().catch(async (e) => {
  console.log('FAIL: ' + (e && e.stack || e));
  try { /* best effort: what the page looked like */ } finally { process.exit(1); }
});
