// Stand-in for Stripe.js in the browser tests (see README.md here): the
// calls the payment page makes, confirmed through the stand-in's server.
(function () {
  'use strict';

  const script = document.currentScript;
  const BASE = new URL('.', script.src).href.replace(/\/v3\/$/, '/');

  function field(label, name, placeholder) {
    const wrap = document.createElement('div');
    wrap.className = 'field';
    const id = `standin-${name}`;
    const l = document.createElement('label');
    l.htmlFor = id;
    l.textContent = label;
    const input = document.createElement('input');
    input.id = id;
    input.name = name;
    input.placeholder = placeholder;
    input.autocomplete = 'off';
    wrap.append(l, input);
    return { wrap, input };
  }

  function paymentElement() {
    const handlers = {};
    const inputs = {};
    let method = 'card';
    const root = document.createElement('div');
    root.className = 'stripe-standin';
    root.dataset.standin = 'payment-element';
    const tabs = document.createElement('div');
    tabs.setAttribute('role', 'tablist');
    const panels = {};
    for (const [key, label] of [['card', 'Card'], ['sepa_debit', 'SEPA Direct Debit']]) {
      const tab = document.createElement('button');
      tab.type = 'button';
      tab.setAttribute('role', 'tab');
      tab.textContent = label;
      tab.dataset.method = key;
      tab.className = 'btn btn-ghost btn-sm';
      tab.addEventListener('click', () => {
        method = key;
        for (const [k, panel] of Object.entries(panels)) panel.hidden = k !== key;
        tabs.querySelectorAll('button').forEach((b) => b.setAttribute('aria-selected', String(b === tab)));
        (handlers.change || []).forEach((h) => h({ elementType: 'payment', value: { type: key } }));
      });
      tabs.append(tab);
    }
    const card = document.createElement('div');
    for (const [label, name, placeholder] of [['Card number', 'number', '1234 1234 1234 1234'], ['Expiry', 'expiry', 'MM / YY'], ['CVC', 'cvc', 'CVC']]) {
      const f = field(label, name, placeholder);
      inputs[name] = f.input;
      card.append(f.wrap);
    }
    const sepa = document.createElement('div');
    sepa.hidden = true;
    for (const [label, name, placeholder] of [['Full name', 'name', 'Jenny Rosen'], ['Email', 'email', 'jenny@example.com'], ['IBAN', 'iban', 'DE89 3704 0044 0532 0130 00']]) {
      const f = field(label, name, placeholder);
      inputs[name] = f.input;
      sepa.append(f.wrap);
    }
    panels.card = card;
    panels.sepa_debit = sepa;
    root.append(tabs, card, sepa);
    return {
      mount(selector) {
        const target = typeof selector === 'string' ? document.querySelector(selector) : selector;
        target.replaceChildren(root);
      },
      on(event, handler) {
        (handlers[event] ||= []).push(handler);
      },
      collect() {
        if (method === 'card') {
          const [month, year] = inputs.expiry.value.split('/').map((s) => s.trim());
          return { type: 'card', card: { number: inputs.number.value.replace(/\s/g, ''), exp_month: month, exp_year: year, cvc: inputs.cvc.value } };
        }
        return { type: 'sepa_debit', iban: inputs.iban.value.replace(/\s/g, ''), name: inputs.name.value, email: inputs.email.value };
      },
    };
  }

  window.Stripe = function (publishableKey) {
    if (!/^pk_/.test(publishableKey || '')) throw new Error('Stripe(): a publishable key is required');
    return {
      elements({ clientSecret }) {
        let created;
        return {
          clientSecret,
          create(type) {
            if (type !== 'payment') throw new Error(`stand-in: only the Payment Element (asked: ${type})`);
            created = paymentElement();
            return created;
          },
          _collect() {
            return created.collect();
          },
        };
      },
      async confirmPayment({ elements, confirmParams }) {
        const body = { client_secret: elements.clientSecret, ...elements._collect() };
        if (body.type === 'card' && (!body.card.number || !body.card.exp_month || !body.card.cvc)) {
          return { error: { type: 'validation_error', message: 'Your card number is incomplete.' } };
        }
        // text/plain keeps this a simple request (no CORS preflight).
        const response = await fetch(`${BASE}confirm`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: JSON.stringify(body) });
        const result = await response.json();
        if (result.error) return { error: result.error };
        const intent = result.paymentIntent;
        const url = new URL(confirmParams.return_url);
        url.searchParams.set('payment_intent', intent.id);
        url.searchParams.set('payment_intent_client_secret', elements.clientSecret);
        url.searchParams.set('redirect_status', intent.status === 'requires_payment_method' ? 'failed' : intent.status);
        window.location.assign(url.href);
        return new Promise(() => {}); // the page is leaving, as with Stripe
      },
    };
  };
})();
