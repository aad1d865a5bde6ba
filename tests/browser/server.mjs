// Starts a real kasir binary on a free loopback port with a fresh SQLite
// database, and stops it (and removes the database) afterwards.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
export const SCREENSHOTS = path.join(process.env.CARGO_TARGET_DIR || path.join(ROOT, 'target'), 'screenshots');

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitForHealth(url, child, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`kasir exited with ${child.exitCode}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`kasir did not become healthy at ${url}`);
}

const BIN = process.env.KASIR_BIN || path.join(ROOT, 'target', 'debug', 'kasir');

export async function startKasir(env = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'kasir-browser-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const fullEnv = {
    PATH: process.env.PATH,
    DATABASE_URL: `sqlite://${path.join(dir, 'kasir.db')}`,
    BIND_ADDR: `127.0.0.1:${port}`,
    SECRET_KEY: 'browser-test-secret-'.padEnd(80, 'x'),
    JOURNAL_KEY: 'browser-test-journal-'.padEnd(80, 'x'),
    UPLOADS_DIR: path.join(dir, 'uploads'),
    MAIL_DIR: path.join(dir, 'outbox'),
    RUST_LOG: 'warn',
    ...env,
  };
  const child = spawn(BIN, ['serve'], { cwd: ROOT, env: fullEnv, stdio: ['ignore', 'inherit', 'inherit'] });
  await waitForHealth(url, child);
  return {
    url,
    /** Runs `kasir create-staff` against this server's database. */
    createStaff(email, password) {
      const result = spawnSync(BIN, ['create-staff', '--email', email, '--password', password], {
        cwd: ROOT,
        env: fullEnv,
        encoding: 'utf8',
      });
      if (result.status !== 0) throw new Error(`create-staff failed: ${result.stderr}`);
    },
    /** Runs `kasir bench seed ARGS` (a large history) against this server's database. */
    benchSeed(args) {
      const result = spawnSync(BIN, ['bench', 'seed', ...args], { cwd: ROOT, env: fullEnv, encoding: 'utf8' });
      if (result.status !== 0) throw new Error(`bench seed failed: ${result.stderr}`);
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
}

/**
 * localstripe behind the contract proxy of tests/stripe/stripe_today.py
 * (today's Stripe parameters, recorded). It binds its own free port and
 * reports it on its first line of output. `settleSeconds` keeps bank debits
 * `processing` that long.
 */
export async function startStripe({ settleSeconds } = {}) {
  const args = [path.join(ROOT, 'tests', 'stripe', 'stripe_today.py')];
  if (settleSeconds !== undefined) args.push('--settle-seconds', String(settleSeconds));
  const child = spawn('python3', args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const ready = await new Promise((resolve, reject) => {
    let buffered = '';
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      const newline = buffered.indexOf('\n');
      if (newline >= 0) resolve(JSON.parse(buffered.slice(0, newline)));
    });
    child.once('exit', (code) => reject(new Error(`stripe_today.py exited with ${code}`)));
  });
  return {
    url: ready.url,
    /** Every request the proxy recorded. */
    async requests() {
      return (await fetch(`${ready.url}/_contract/requests`)).json();
    },
    async stop() {
      child.stdin.end();
      await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
    },
  };
}

/** Every test account's password. */
export const PASSWORD = 'correct horse battery';

/** Collects the page's console errors and uncaught exceptions. */
export function watch(page) {
  const problems = [];
  page.on('pageerror', (err) => problems.push(err.message));
  page.on('console', (msg) => msg.type() === 'error' && problems.push(msg.text()));
  return problems;
}

/** Registers through the form and lands on the catalog, logged in. */
export async function signUp(page, url, email, name = 'Ada Lovelace') {
  await page.goto(url + '/register');
  await page.fill('#name', name);
  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL(url + '/'), page.click('button[type=submit]')]);
}

/** Logs in through the form and lands on the catalog. */
export async function logIn(page, url, email) {
  await page.goto(url + '/login');
  await page.fill('#email', email);
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL(url + '/'), page.click('button[type=submit]')]);
}

/** Adds a course from the catalog page and waits for the "In cart" tag. */
export async function addToCart(page, title) {
  const card = page.locator('.course-card', { hasText: title });
  await card.getByRole('button', { name: 'Add to cart' }).click();
  await card.locator('.tag-in-cart').waitFor();
}

/** Types a test card into the sandbox form and pays. */
export async function payInSandbox(page, number, { expect = /\/complete$/ } = {}) {
  await page.fill('#card_number', number);
  await page.fill('#expiry', '12/40');
  await page.fill('#cvc', '123');
  await Promise.all([page.waitForURL(expect), page.click('button:has-text("Pay")')]);
}

/**
 * The Stripe.js stand-in (tests/browser/stripe-standin/README.md): serves
 * its script at `/v3/` and confirms payments through `stripe` (the
 * contract proxy) with the secret key, as Stripe's servers would.
 */
export async function startStripeStandin(stripe, secretKey) {
  const { createServer } = await import('node:http');
  const { readFileSync } = await import('node:fs');
  const script = readFileSync(path.join(ROOT, 'tests', 'browser', 'stripe-standin', 'stripe.js'));
  const api = async (method, apiPath, form) => {
    const response = await fetch(stripe.url + apiPath, {
      method,
      headers: { Authorization: `Bearer ${secretKey}`, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: form ? new URLSearchParams(form).toString() : undefined,
    });
    return { status: response.status, body: await response.json() };
  };
  const confirm = async (request) => {
    const id = String(request.client_secret || '').split('_secret_')[0];
    const intent = await api('GET', `/v1/payment_intents/${id}`);
    if (intent.status !== 200 || intent.body.client_secret !== request.client_secret) {
      return { error: { type: 'invalid_request_error', message: 'No such payment_intent.' } };
    }
    const method =
      request.type === 'card'
        ? {
            type: 'card',
            'card[number]': request.card.number,
            'card[exp_month]': request.card.exp_month,
            'card[exp_year]': request.card.exp_year,
            'card[cvc]': request.card.cvc,
          }
        : {
            type: 'sepa_debit',
            'sepa_debit[iban]': request.iban,
            'billing_details[name]': request.name,
            'billing_details[email]': request.email,
          };
    const created = await api('POST', '/v1/payment_methods', method);
    if (created.status !== 200) return { error: { ...created.body.error, type: 'card_error' } };
    const updated = await api('POST', `/v1/payment_intents/${id}`, { payment_method: created.body.id });
    if (updated.status !== 200) return { error: { ...updated.body.error, type: 'card_error' } };
    const confirmed = await api('POST', `/v1/payment_intents/${id}/confirm`, {});
    if (confirmed.status !== 200) return { error: { ...confirmed.body.error, type: 'card_error' } };
    return { paymentIntent: confirmed.body };
  };
  const server = createServer(async (req, res) => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    if (req.method === 'GET' && req.url === '/v3/') {
      res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8' });
      res.end(script);
      return;
    }
    if (req.method === 'POST' && req.url === '/confirm') {
      let body = '';
      for await (const chunk of req) body += chunk;
      const answer = await confirm(JSON.parse(body)).catch((e) => ({ error: { type: 'api_error', message: String(e) } }));
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(answer));
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    jsUrl: `${url}/v3/`,
    async stop() {
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * A real SMTP server (tests/mail/smtp_server.py, aiosmtpd): `env` points
 * kasir at it; `messages()` lists what it received, parts decoded.
 */
export async function startSmtp() {
  const script = path.join(ROOT, 'tests', 'mail', 'smtp_server.py');
  const child = spawn('python3', [script], { stdio: ['pipe', 'pipe', 'inherit'] });
  const line = await new Promise((resolve, reject) => {
    let buffered = '';
    child.stdout.on('data', (chunk) => {
      buffered += chunk;
      const end = buffered.indexOf('\n');
      if (end >= 0) resolve(buffered.slice(0, end));
    });
    child.once('exit', (code) => reject(new Error(`smtp_server.py exited with ${code}`)));
  });
  const ready = JSON.parse(line);
  return {
    env: {
      SMTP_URL: `smtp://127.0.0.1:${ready.smtp_port}?tls=none`,
      MAIL_FROM: 'Kasir <shop@kasir.test>',
      MAIL_RETRY_SECONDS: '1',
    },
    async messages() {
      return (await fetch(`${ready.url}/_messages`)).json();
    },
    /** Waits for the `count`-th mail and returns it. */
    async waitFor(count) {
      const deadline = Date.now() + 20000;
      while (Date.now() < deadline) {
        const got = await this.messages();
        if (got.length >= count) return got[count - 1];
        await new Promise((r) => setTimeout(r, 200));
      }
      throw new Error(`mail ${count} never came`);
    },
    stop() {
      child.kill();
    },
  };
}
