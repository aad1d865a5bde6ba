import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { SCREENSHOTS, launchBrowser, startKasir, watch } from './server.mjs';

let kasir;
let browser;

before(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  kasir = await startKasir();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await kasir?.stop();
});

test('the catalog shows the demo courses, prices and an empty cart counter', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems = watch(page);
  const response = await page.goto(kasir.url + '/');
  assert.equal(response.status(), 200);

  const cards = page.locator('.course-card');
  assert.equal(await cards.count(), 8);
  assert.equal(await cards.first().locator('.course-title').innerText(), 'Rust for Web Developers');
  assert.match(await cards.first().locator('.price').innerText(), /^\$\d+\.\d{2}$/);
  assert.equal(await page.locator('#cart-count').innerText(), '0');
  assert.ok(await page.locator('.sandbox-banner').isVisible(), 'sandbox banner is shown');

  // The stylesheet really applied (CSP allows it): cards sit in a grid.
  const display = await page.locator('.course-grid').evaluate((el) => getComputedStyle(el).display);
  assert.equal(display, 'grid');

  await page.screenshot({ path: path.join(SCREENSHOTS, 'catalog.png'), fullPage: true });
  assert.deepEqual(problems, [], 'no console errors or CSP violations');
  await page.close();
});

test('the Content-Security-Policy stops an inline script in a real browser', async () => {
  const page = await browser.newPage();
  const violations = [];
  page.on('console', (msg) => {
    if (msg.text().includes('Content Security Policy')) violations.push(msg.text());
  });
  await page.goto(kasir.url + '/');
  // What an XSS that got past escaping would do: inline script, and an
  // inline event handler.
  await page.evaluate(() => {
    const script = document.createElement('script');
    script.textContent = 'window.__pwned = true;';
    document.body.appendChild(script);
    const img = document.createElement('img');
    img.setAttribute('onerror', 'window.__pwned = true;');
    img.src = '/nowhere.png';
    document.body.appendChild(img);
  });
  await page.waitForTimeout(300);
  assert.equal(await page.evaluate(() => window.__pwned), undefined, 'the injected script did not run');
  assert.ok(violations.length >= 1, 'Chromium reported the CSP violation');
  await page.close();
});

test('a student signs up from the navbar, sees their name, and logs out', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems = watch(page);
  await page.goto(kasir.url + '/');
  await page.click('text=Sign up >> visible=true');
  await page.fill('#name', 'Ada Lovelace');
  await page.fill('#email', 'ada@example.com');
  await page.fill('#password', 'correct horse battery');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'register.png') });
  await Promise.all([page.waitForURL(kasir.url + '/'), page.click('button[type=submit]')]);

  assert.equal(await page.locator('.nav-user').innerText(), 'Ada Lovelace');
  assert.match(await page.locator('.flash-ok').innerText(), /Welcome to kasir/);

  await page.click('text=Rust for Web Developers');
  assert.equal(await page.locator('h1').innerText(), 'Rust for Web Developers');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'course.png'), fullPage: true });

  await page.click('button:has-text("Log out") >> visible=true');
  await page.waitForSelector('.flash-info');
  assert.equal(await page.locator('.nav-user').count(), 0);
  assert.equal(await page.locator('text=Log in').count() > 0, true);

  await page.goto(kasir.url + '/courses/nope');
  assert.equal(await page.locator('.error-code').innerText(), '404');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'not-found.png') });
  assert.deepEqual(problems.filter((p) => !p.includes('404')), []);
  await page.close();
});

test('the layout holds on a phone-sized screen', async () => {
  const page = await browser.newPage({ viewport: { width: 390, height: 844 } });
  await page.goto(kasir.url + '/login');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
  assert.equal(overflow, false, 'no horizontal scrolling');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'login-mobile.png'), fullPage: true });
  await page.close();
});
