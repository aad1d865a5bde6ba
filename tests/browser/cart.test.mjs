import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { PASSWORD, SCREENSHOTS, launchBrowser, logIn, startKasir, watch } from './server.mjs';

let kasir;
let browser;

before(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  kasir = await startKasir();
  browser = await launchBrowser();
  kasir.createStaff('promo@example.com', PASSWORD);
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
  // Said in words too, not only by the badge, with the way to the cart.
  assert.match(await page.locator('#flashes .flash-ok').innerText(), /Rust for Web Developers is in your cart/);
  assert.equal(await page.locator('#flashes .flash-ok a').getAttribute('href'), '/cart');
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

test('a promo code applied in the cart changes the total at once and comes through sign-up', async () => {
  // Staff make a code.
  const staff = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const office = await staff.newPage();
  await logIn(office, kasir.url, 'promo@example.com');
  await office.goto(kasir.url + '/staff/promo-codes');
  await office.fill('#code', 'WELCOME10');
  await office.selectOption('#kind', 'percent');
  await office.fill('#percent', '10');
  await Promise.all([office.waitForEvent('load'), office.click('button:has-text("Create")')]);
  await staff.close();

  // A guest on a phone fills a cart and tries codes.
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true });
  const page = await context.newPage();
  const problems = watch(page);
  await page.goto(kasir.url + '/courses/rust-for-web-developers');
  await page.getByRole('button', { name: 'Add to cart' }).click();
  await page.waitForFunction(() => document.querySelector('#cart-count').textContent === '1');
  await page.goto(kasir.url + '/cart');
  assert.equal(await page.locator('#promo_code').isVisible(), false, 'behind "Have a promo code?"');
  await page.click('text=Have a promo code?');
  await page.fill('#promo_code', 'NOPE');
  await Promise.all([page.waitForEvent('load'), page.click('button:has-text("Apply")')]);
  assert.match(await page.locator('#promo-error').innerText(), /We don't know the promo code NOPE/);
  assert.equal(await page.locator('#promo_code').inputValue(), 'NOPE', 'what was typed stays');
  assert.equal(await page.locator('[data-cart-total]').innerText(), '$89.00');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'cart-promo-refused.png'), fullPage: true });
  await page.fill('#promo_code', 'welcome10');
  await Promise.all([page.waitForEvent('load'), page.click('button:has-text("Apply")')]);
  assert.equal(await page.locator('[data-cart-discount]').innerText(), '-$8.90');
  assert.equal(await page.locator('[data-cart-total]').innerText(), '$80.10');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'cart-promo-applied.png'), fullPage: true });

  // Checking out as a guest: sign up, and back to the same cart, code kept.
  await Promise.all([page.waitForURL(/\/register/), page.click('button:has-text("Checkout")')]);
  await page.fill('#name', 'Budi');
  await page.fill('#email', 'budi@example.com');
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL(kasir.url + '/cart'), page.click('button[type=submit]')]);
  assert.equal(await page.locator('[data-cart-total]').innerText(), '$80.10');
  await Promise.all([page.waitForURL(/\/checkout\/ORD-/), page.click('button:has-text("Checkout")')]);
  assert.equal(await page.locator('[data-order-discount]').innerText(), '-$8.90');
  assert.equal(await page.locator('[data-order-total]').first().innerText(), '$80.10');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'pay-mobile.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await context.close();
});
