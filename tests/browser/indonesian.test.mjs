import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { PASSWORD, SCREENSHOTS, launchBrowser, startKasir, startSmtp, watch } from './server.mjs';

let browser;
let kasir;
let smtp;

before(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  browser = await launchBrowser();
  smtp = await startSmtp();
  kasir = await startKasir({ ...smtp.env, CURRENCY: 'IDR' });
});

after(async () => {
  await browser?.close();
  await kasir?.stop();
  smtp?.stop();
});

/** The path of a link (kasir's PUBLIC_URL here is its own address). */
function linkIn(text, part) {
  const found = text.split(/\s+/).find((word) => word.startsWith('http') && word.includes(part));
  assert.ok(found, `a link with ${part} in: ${text}`);
  return new URL(found).pathname;
}

test('a student in Indonesia buys in rupiah, gets the receipt by mail, and resets a forgotten password', async () => {
  // An Indonesian browser: every page speaks Bahasa Indonesia.
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'id-ID' });
  const page = await context.newPage();
  const problems = watch(page);
  await page.goto(kasir.url + '/register');
  assert.equal(await page.getAttribute('html', 'lang'), 'id');
  await page.fill('#name', 'Siti Rahma');
  await page.fill('#email', 'siti@example.com');
  await page.fill('#password', PASSWORD);
  await Promise.all([page.waitForURL(kasir.url + '/'), page.click('button[type=submit]')]);
  assert.match(await page.locator('.flash').first().innerText(), /Selamat datang di kasir, Siti Rahma/);
  const card = page.locator('.course-card', { hasText: 'Rust for Web Developers' });
  assert.equal(await card.locator('.price').innerText(), 'Rp799.000');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'id-catalog.png'), fullPage: true });

  await card.getByRole('button', { name: 'Tambah ke keranjang' }).click();
  await card.locator('.tag-in-cart').waitFor();
  assert.equal(await card.locator('.tag-in-cart').innerText(), 'Di keranjang');
  await page.goto(kasir.url + '/cart');
  assert.equal(await page.locator('h1').innerText(), 'Keranjang Anda');
  assert.equal(await page.locator('[data-cart-subtotal]').innerText(), 'Rp799.000');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'id-cart.png'), fullPage: true });

  await Promise.all([page.waitForURL(/\/checkout\/ORD-/), page.click('button:has-text("Bayar")')]);
  const number = page.url().split('/').pop();
  assert.equal(await page.locator('[data-order-total]').innerText(), 'Rp799.000');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'id-payment.png'), fullPage: true });
  await page.fill('#card_number', '4000 0000 0000 0002');
  await page.fill('#expiry', '12/40');
  await page.fill('#cvc', '123');
  await Promise.all([page.waitForLoadState(), page.click('button:has-text("Bayar Rp799.000")')]);
  assert.equal(await page.locator('#card-errors').innerText(), 'Kartu Anda ditolak.');
  await page.fill('#card_number', '4242 4242 4242 4242');
  await page.fill('#expiry', '12/40');
  await page.fill('#cvc', '123');
  await Promise.all([page.waitForURL(/\/complete$/), page.click('button:has-text("Bayar Rp799.000")')]);
  assert.equal(await page.locator('h1').innerText(), 'Anda sudah terdaftar!');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'id-complete.png'), fullPage: true });

  // The receipt arrives, in Indonesian, and its invoice link opens the invoice.
  const receipt = await smtp.waitFor(1);
  assert.equal(receipt.subject, `Bukti pembayaran pesanan ${number}`);
  assert.match(receipt.text, /Rp799\.000/);
  await page.goto(kasir.url + linkIn(receipt.text, '/orders/'));
  assert.equal(await page.locator('[data-invoice-total]').innerText(), 'Rp799.000');
  assert.equal(await page.locator('.invoice-meta h1').innerText(), 'Faktur');
  assert.equal(await page.locator('[data-invoice-status]').innerText(), 'Lunas');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'id-invoice.png'), fullPage: true });

  // She logs out, forgets her password, and resets it from the mail.
  await Promise.all([page.waitForURL(kasir.url + '/'), page.click('button:has-text("Keluar") >> visible=true')]);
  await page.goto(kasir.url + '/login');
  await page.click('text=Lupa kata sandi?');
  await page.fill('#email', 'siti@example.com');
  await Promise.all([page.waitForLoadState(), page.click('button:has-text("Kirimi saya tautan")')]);
  assert.match(await page.locator('[data-reset-sent]').innerText(), /tautan untuk memilih kata sandi baru sedang dikirim/);
  await page.screenshot({ path: path.join(SCREENSHOTS, 'id-forgot.png'), fullPage: true });
  const reset = await smtp.waitFor(2);
  assert.equal(reset.subject, 'Atur ulang kata sandi kasir Anda');
  await page.goto(kasir.url + linkIn(reset.text, '/password/reset/'));
  await page.fill('#password', 'kata sandi baru yang panjang');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'id-reset.png'), fullPage: true });
  await Promise.all([page.waitForURL(kasir.url + '/'), page.click('button:has-text("Simpan dan masuk")')]);
  assert.match(await page.locator('.flash').first().innerText(), /Kata sandi Anda sudah diganti/);
  assert.match(await page.locator('.nav-user').innerText(), /Siti Rahma/);

  // The switcher in the footer turns the shop to English.
  await Promise.all([page.waitForLoadState(), page.click('.language-switcher button[value=en]')]);
  assert.equal(await page.getAttribute('html', 'lang'), 'en');
  assert.equal(await card.locator('.price').innerText(), 'Rp799,000');
  assert.deepEqual(problems, []);
  await context.close();
});
