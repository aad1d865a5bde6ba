import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { SCREENSHOTS, launchBrowser, startKasir } from './server.mjs';

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

test('adding and removing from the catalog updates the counter without a reload', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems = [];
  page.on('pageerror', (err) => problems.push(err.message));
  page.on('console', (msg) => msg.type() === 'error' && problems.push(msg.text()));
  await page.goto(kasir.url + '/');
  // A marker that a reload would wipe.
  await page.evaluate(() => { window.__samePage = true; });

  const rust = page.locator('.course-card', { hasText: 'Rust for Web Developers' });
  const pg = page.locator('.course-card', { hasText: 'PostgreSQL in Practice' });
  await rust.getByRole('button', { name: 'Add to cart' }).click();
  await page.waitForFunction(() => document.querySelector('#cart-count').textContent === '1');
  await pg.getByRole('button', { name: 'Add to cart' }).click();
  await page.waitForFunction(() => document.querySelector('#cart-count').textContent === '2');
  assert.equal(await rust.locator('.tag-in-cart').isVisible(), true);
  assert.equal(await rust.getByRole('button', { name: 'Add to cart' }).isVisible(), false);
  await page.screenshot({ path: path.join(SCREENSHOTS, 'catalog-with-cart.png') });

  await rust.getByRole('button', { name: /Remove/ }).click();
  await page.waitForFunction(() => document.querySelector('#cart-count').textContent === '1');
  assert.equal(await rust.getByRole('button', { name: 'Add to cart' }).isVisible(), true);
  assert.equal(await page.evaluate(() => window.__samePage), true, 'no reload happened');

  // The server agrees, and the cart page shows what is left.
  const count = await page.evaluate(async () => (await (await fetch('/cart/count')).json()).count);
  assert.equal(count, 1);
  await page.click('.cart-link');
  await page.waitForURL(kasir.url + '/cart');
  assert.deepEqual(await page.locator('.cart-line-title').allInnerTexts(), ['PostgreSQL in Practice']);
  assert.equal(await page.locator('[data-cart-subtotal]').innerText(), '$69.00');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'cart.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await page.close();
});

test('removing the last course on the cart page shows the empty cart', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await page.goto(kasir.url + '/courses/modern-javascript');
  await page.getByRole('button', { name: 'Add to cart' }).click();
  await page.waitForFunction(() => document.querySelector('#cart-count').textContent === '1');
  await page.goto(kasir.url + '/cart');
  await page.getByRole('button', { name: /Remove Modern JavaScript/ }).click();
  await page.waitForSelector('text=Your cart is empty');
  assert.equal(await page.locator('#cart-count').innerText(), '0');
  await context.close();
});

test('without JavaScript the forms still work', async () => {
  const context = await browser.newContext({ javaScriptEnabled: false });
  const page = await context.newPage();
  await page.goto(kasir.url + '/');
  const card = page.locator('.course-card', { hasText: 'UX Design Foundations' });
  await Promise.all([page.waitForNavigation(), card.getByRole('button', { name: 'Add to cart' }).click()]);
  assert.equal(await page.locator('#cart-count').innerText(), '1');
  assert.match(await page.locator('.flash-ok').innerText(), /UX Design Foundations is in your cart/);
  await context.close();
});
