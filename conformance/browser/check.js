// Drives mqtt.js in headless Chromium against a running Tern: for ws:// and wss://, the page subscribes and
// receives a message a TCP client publishes, then publishes one a TCP subscriber receives.
// Env: TERN (binary), TCP_URL, WS_URL, WSS_URL. Prints "browser: N passed, N failed" last.
'use strict';
const http = require('http');
const fs = require('fs');
const path = require('path');
const { execFile, spawn } = require('child_process');
const { chromium } = require('playwright-core');

const TERN = process.env.TERN;
const TCP_URL = process.env.TCP_URL;
const targets = [['ws', process.env.WS_URL], ['wss', process.env.WSS_URL]];
const STEP_MS = 10000;

const files = {
  '/index.html': [path.join(__dirname, 'index.html'), 'text/html'],
  '/mqtt.min.js': [path.join(__dirname, 'node_modules/mqtt/dist/mqtt.min.js'), 'application/javascript'],
};

function serveStatic() {
  const server = http.createServer((req, res) => {
    const f = files[req.url];
    if (!f) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'content-type': f[1] });
    fs.createReadStream(f[0]).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: timed out after ${ms} ms`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

function ternPub(topic, message) {
  return new Promise((resolve, reject) => {
    execFile(TERN, ['pub', '-u', TCP_URL, '-t', topic, '-m', message, '-q', '1'], { timeout: STEP_MS },
      (err, _out, stderr) => (err ? reject(new Error(`tern pub: ${err.message} ${stderr}`)) : resolve()));
  });
}

function ternSubOne(topic) {
  const child = spawn(TERN, ['sub', '-u', TCP_URL, '-t', topic, '-q', '1', '-C', '1', '-W', '10']);
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  return new Promise((resolve, reject) => {
    child.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`tern sub exited ${code}: ${out}`))));
  });
}

async function main() {
  let passed = 0;
  let failed = 0;
  const check = async (name, fn) => {
    try {
      await withTimeout(fn(), STEP_MS * 2, name);
      passed += 1;
      console.log(`ok   ${name}`);
    } catch (e) {
      failed += 1;
      console.log(`FAIL ${name}: ${e.message}`);
    }
  };
  const server = await serveStatic();
  const base = `http://127.0.0.1:${server.address().port}`;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      // The broker's development certificate is self-signed.
      '--ignore-certificate-errors'],
    timeout: 30000,
  });
  try {
    for (const [kind, url] of targets) {
      const page = await browser.newPage({ ignoreHTTPSErrors: true });
      await page.goto(`${base}/index.html`, { timeout: STEP_MS });
      const run = `${Date.now()}`;
      const inTopic = `browser/${kind}/${run}/in`;
      const outTopic = `browser/${kind}/${run}/out`;
      await check(`${kind}: mqtt.js connects and subscribes (${url})`, () => page.evaluate(({ url, inTopic }) => new Promise((resolve, reject) => {
        const c = mqtt.connect(url, { clientId: `browser-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 0, connectTimeout: 5000 });
        window.client = c;
        window.received = [];
        c.on('message', (topic, payload) => window.received.push([topic, payload.toString()]));
        c.on('error', (e) => reject(new Error(String(e))));
        c.on('connect', () => c.subscribe(inTopic, { qos: 1 }, (err) => (err ? reject(err) : resolve())));
      }), { url, inTopic }));
      await check(`${kind}: browser receives what a TCP client publishes`, async () => {
        await ternPub(inTopic, `hello ${kind} browser`);
        await page.waitForFunction((t) => window.received.some(([topic]) => topic === t), inTopic, { timeout: STEP_MS });
        const got = await page.evaluate(() => window.received);
        if (got[0][1] !== `hello ${kind} browser`) throw new Error(`payload ${JSON.stringify(got)}`);
      });
      await check(`${kind}: a TCP subscriber receives what the browser publishes`, async () => {
        const sub = ternSubOne(outTopic);
        // Retained, so the message waits for the subscriber however the two starts interleave.
        await page.evaluate(({ outTopic, kind }) => new Promise((resolve, reject) => {
          window.client.publish(outTopic, `from the ${kind} browser`, { qos: 1, retain: true }, (err) => (err ? reject(err) : resolve()));
        }), { outTopic, kind });
        const out = await sub;
        if (!out.includes(`from the ${kind} browser`)) throw new Error(`tern sub printed: ${out}`);
      });
      await page.evaluate(() => new Promise((resolve) => window.client.end(false, {}, resolve))).catch(() => {});
      await page.close();
    }
  } finally {
    await browser.close();
    server.close();
  }
  console.log(`browser: ${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

main().catch((e) => {
  console.log(`FAIL harness: ${e.stack || e}`);
  console.log('browser: 0 passed, 1 failed');
  process.exit(1);
});
