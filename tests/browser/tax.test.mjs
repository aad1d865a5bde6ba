// A shop that adds VAT on top of its prices (TAX_INCLUSIVE=false): the
// cart, the payment page and the invoice all add it before the total, and
// the sandbox charges the gross.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { SCREENSHOTS, addToCart, launchBrowser, payInSandbox, signUp, startKasir, watch } from './server.mjs';

let kasir;
let browser;

before(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  kasir = await startKasir({ TAX_RATE_BPS: '1900', TAX_INCLUSIVE: 'false', TAX_NAME: 'VAT' });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  await kasir?.stop();
});

test('VAT added on top shows in the cart, is charged, and is printed on the invoice', async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems = watch(page);
  await signUp(page, kasir.url, 'vat@example.com');
  await addToCart(page, 'Rust for Web Developers');
  await addToCart(page, 'Modern JavaScript');
  await page.goto(kasir.url + '/cart');
  // 89 + 49 = 138.00; 19 % of it is 26.22; 164.22 in all.
  assert.equal(await page.locator('[data-cart-subtotal]').innerText(), '$138.00');
  assert.match(await page.locator('[data-cart-tax-added]').innerText(), /Plus VAT\s+\$26\.22/);
  assert.equal(await page.locator('[data-cart-total]').innerText(), '$164.22');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'cart-vat-on-top.png'), fullPage: true });

  await Promise.all([page.waitForURL(/\/checkout\/ORD-/), page.click('button:has-text("Checkout")')]);
  const number = page.url().split('/').pop();
  assert.equal(await page.locator('[data-order-tax]').innerText(), '$26.22');
  assert.equal(await page.locator('[data-order-total]').innerText(), '$164.22');
  await payInSandbox(page, '4242 4242 4242 4242');
  await page.goto(`${kasir.url}/orders/${number}`);
  assert.deepEqual(await page.locator('[data-line-tax]').allInnerTexts(), ['$16.91', '$9.31']);
  assert.equal(await page.locator('[data-invoice-tax]').innerText(), '$26.22');
  assert.equal(await page.locator('[data-invoice-total]').innerText(), '$164.22');
  assert.match(await page.locator('.invoice-lines thead').innerText(), /Amount excl\. VAT/i);
  await page.emulateMedia({ media: 'print' });
  await page.screenshot({ path: path.join(SCREENSHOTS, 'invoice-vat-on-top-print.png'), fullPage: true });
  assert.deepEqual(problems, []);
  await context.close();
});
