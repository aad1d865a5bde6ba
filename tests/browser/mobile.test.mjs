import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { PASSWORD, SCREENSHOTS, launchBrowser, logIn, signUp, startKasir, watch } from './server.mjs';

let browser;
let kasir;

before(async () => {
  mkdirSync(SCREENSHOTS, { recursive: true });
  browser = await launchBrowser();
  kasir = await startKasir();
  kasir.createStaff('boss@example.com', PASSWORD);
});

after(async () => {
  await browser?.close();
  await kasir?.stop();
});

const PHONE = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };

test('on a phone the menu button reaches My courses, Orders, the back office and Log out', async () => {
  const context = await browser.newContext(PHONE);
  const page = await context.newPage();
  const problems = watch(page);
  await signUp(page, kasir.url, 'siti@example.com', 'Siti');
  // The wide links are hidden; the menu button is what a phone has.
  assert.equal(await page.locator('.nav-links').isVisible(), false);
  const menu = page.locator('.nav-menu > summary');
  assert.equal(await menu.isVisible(), true);
  assert.equal(await page.locator('.nav-menu-panel').isVisible(), false, 'closed until asked');
  await menu.click();
  assert.equal(await page.locator('.nav-menu-panel').isVisible(), true);
  await page.screenshot({ path: path.join(SCREENSHOTS, 'mobile-menu-open.png') });
  await Promise.all([page.waitForURL(kasir.url + '/my-courses'), page.locator('.nav-menu-panel >> text=My courses').click()]);
  assert.equal(await page.locator('.nav-menu-panel').isVisible(), false, 'a new page starts closed');
  await menu.click();
  await Promise.all([page.waitForURL(kasir.url + '/orders'), page.locator('.nav-menu-panel >> text=Orders').click()]);
  assert.equal(await page.locator('.nav-menu-panel >> text=Back office').count(), 0, 'students have no back office');
  // Nothing wider than the phone's screen.
  assert.equal(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), true);
  await menu.click();
  await Promise.all([page.waitForURL(kasir.url + '/'), page.locator('.nav-menu-panel >> button:has-text("Log out")').click()]);
  assert.equal(await page.locator('.nav-menu-panel >> text=My courses').count(), 0, 'logged out');
  assert.deepEqual(problems, []);
  await context.close();
});

test('on a phone staff reach the back office through the menu, also without JavaScript', async () => {
  const context = await browser.newContext({ ...PHONE, javaScriptEnabled: false });
  const page = await context.newPage();
  await logIn(page, kasir.url, 'boss@example.com');
  await page.locator('.nav-menu > summary').click();
  await Promise.all([page.waitForURL(kasir.url + '/staff/orders'), page.locator('.nav-menu-panel >> text=Back office').click()]);
  assert.equal(await page.locator('h1').innerText(), 'Back office');
  await page.screenshot({ path: path.join(SCREENSHOTS, 'mobile-back-office.png'), fullPage: true });
  await context.close();
});
