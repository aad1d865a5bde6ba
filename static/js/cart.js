// Cart buttons without page reloads. Every form here also works without
// JavaScript (it posts and redirects); this only makes it smoother.
(function () {
  'use strict';

  const token = document.querySelector('meta[name="csrf-token"]')?.content || '';
  // Words come from the page (its language), never from this file.
  const words = document.body.dataset;

  // `label` is the cart link's accessible name, in the page's language,
  // as the server answered it.
  function setCount(count, label) {
    document.querySelectorAll('[data-cart-count]').forEach((el) => {
      el.textContent = String(count);
    });
    if (label) {
      document.querySelectorAll('.cart-link').forEach((el) => {
        el.setAttribute('aria-label', label);
      });
    }
  }

  function showMessage(text, level, link) {
    const box = document.getElementById('flashes');
    if (!box) return;
    const div = document.createElement('div');
    div.className = `flash flash-${level}`;
    div.textContent = text + ' ';
    if (link) {
      const a = document.createElement('a');
      a.href = link.href;
      a.textContent = link.label;
      div.appendChild(a);
    }
    box.replaceChildren(div);
  }

  document.addEventListener('submit', async (event) => {
    const form = event.target.closest('form[data-cart-action]');
    if (!form) return;
    event.preventDefault();
    const button = form.querySelector('button[type="submit"]');
    if (button) button.disabled = true;
    let response;
    try {
      response = await fetch(form.action, {
        method: 'POST',
        headers: { Accept: 'application/json', 'X-CSRF-Token': token },
        body: new URLSearchParams(new FormData(form)),
        credentials: 'same-origin',
      });
    } catch {
      form.submit(); // network trouble: fall back to a plain post
      return;
    } finally {
      if (button) button.disabled = false;
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const link = data.course_url ? { href: data.course_url, label: words.msgGoToCourse } : null;
      showMessage(data.error || words.msgFailed, 'error', link);
      return;
    }
    setCount(data.count, data.cart_label);
    if (data.message) showMessage(data.message, data.in_cart ? 'ok' : 'info', data.link);
    const control = form.closest('[data-cart-control]');
    if (control) {
      control.querySelector('[data-cart-action="add"]').hidden = data.in_cart;
      control.querySelector('[data-cart-action="remove"]').hidden = !data.in_cart;
      const focus = control.querySelector(`[data-cart-action="${data.in_cart ? 'remove' : 'add'}"] button`);
      focus?.focus();
    }
    const line = form.closest('[data-cart-line]');
    if (line) {
      // With a promo applied the discount changes too: the server says how.
      if (data.count === 0 || form.hasAttribute('data-reload')) {
        window.location.reload();
        return;
      }
      line.remove();
      document.querySelectorAll('[data-cart-subtotal], [data-cart-total]').forEach((el) => { el.textContent = data.subtotal; });
      document.querySelectorAll('[data-cart-lines]').forEach((el) => { el.textContent = String(data.count); });
    }
  });

  // A page restored from the back/forward cache shows an old counter.
  window.addEventListener('pageshow', async (event) => {
    if (!event.persisted) return;
    try {
      const res = await fetch('/cart/count', { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
      if (res.ok) {
        const data = await res.json();
        setCount(data.count, data.cart_label);
      }
    } catch {
      // offline: keep what is shown
    }
  });
})();
