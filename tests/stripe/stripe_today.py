#!/usr/bin/env python3
"""localstripe, held to the parameters of today's Stripe API.

localstripe (PyPI) is a stateful fake Stripe server that speaks the API of
2017: it happily takes parameters that Stripe has since removed (such as
`payment_method_types` on PaymentIntents, refused since 2026-09-30.endive)
and refuses ones Stripe added later. This script starts localstripe in this
process, on a loopback port of its own, and puts a recording proxy in front
of it that:

  * checks every `/v1/...` request against stripe-python, Stripe's official
    SDK generated from its OpenAPI spec: the endpoint must be one the SDK
    calls, and each form or query parameter one its `*Params` type for
    that endpoint declares (nested keys too, where the SDK types them).
    A parameter the SDK does not know is answered 400 `parameter_unknown`,
    as Stripe answers it;
  * drops, before forwarding, the parameters today's API accepts but
    localstripe predates (`receipt_email`, `description`, ...), recording
    that it did;
  * records every request (method, path, endpoint, parameters, the
    `Stripe-Version` and `Idempotency-Key` headers, the user agent, the
    answer) for the tests to read at `GET /_contract/requests`;
  * answers, as a recording stub, the endpoints localstripe does not have
    that kasir uses (`/v1/account`, `/v1/webhook_endpoints`);
  * signs test webhook payloads with stripe-python's own signer at
    `POST /_contract/sign` (`{"payload": ..., "secret": ...}`).

stripe-python's version is the contract: pair it with the API release that
async-stripe pins (see tests/api/stripe.rs, which checks the pairing).

Usage: stripe_today.py [--settle-seconds N]
Prints one JSON line `{"url": ..., "localstripe": ..., "stripe_python": ...,
"api_version": ...}` once both ports listen, and exits when its standard
input closes (the test process that started it ended).
"""

import argparse
import asyncio
import importlib
import inspect
import json
import pkgutil
import re
import socket
import sys
import threading
import time
import urllib.parse

import aiohttp
from aiohttp import web
import stripe
import stripe.params

try:
    from stripe._request_options import RequestOptions
    REQUEST_OPTIONS = set(RequestOptions.__annotations__)
except ImportError:  # older layouts
    REQUEST_OPTIONS = {'api_key', 'idempotency_key', 'stripe_version', 'stripe_account',
                       'stripe_context', 'headers', 'max_network_retries', 'content_type'}
# Stripe.js sends the publishable key as a form field.
AUTH_FIELDS = {'key'}


def sdk_routes():
    """(method, compiled path regex, template, Params class) for every
    endpoint stripe-python's services call."""
    routes = []
    for info in pkgutil.walk_packages(stripe.__path__, 'stripe.'):
        if not info.name.endswith('_service'):
            continue
        module = importlib.import_module(info.name)
        for class_name, cls in inspect.getmembers(module, inspect.isclass):
            if not class_name.endswith('Service') or cls.__module__ != module.__name__:
                continue
            for name, method in inspect.getmembers(cls, inspect.isfunction):
                if name.startswith('_') or name.endswith('_async'):
                    continue
                try:
                    source = inspect.getsource(method)
                except (OSError, TypeError):
                    continue
                call = re.search(r'self\._request(?:_stream)?\(\s*"(\w+)",\s*"([^"]+)"', source)
                if not call:
                    continue
                params = resolve(module, str(method.__annotations__.get('params', '')))
                template = call.group(2)
                pattern = re.compile('^' + re.sub(r'\{\w+\}', '[^/]+', template) + '$')
                routes.append((call.group(1).upper(), pattern, template, params))
    # Literal segments before placeholders: /v1/payment_intents/search before /{intent}.
    routes.sort(key=lambda r: r[2].count('{'))
    return routes


def resolve(module, annotation):
    """The Params TypedDict an annotation names, or None."""
    names = re.findall(r"\b([A-Z]\w*Params\w*)\b", annotation)
    if len(names) != 1:
        return None
    target = getattr(module, names[0], None)
    if target is None:
        target = getattr(stripe.params, names[0], None)
    return target if isinstance(getattr(target, '__annotations__', None), dict) else None


def key_path(raw):
    """`metadata[order_id]` -> ['metadata', 'order_id']; `a[0][b]` -> ['a', '0', 'b']."""
    head, _, rest = raw.partition('[')
    return [head] + (re.findall(r'([^\[\]]*)\]', '[' + rest) if rest else [])


def check_key(params_type, path):
    """The first unknown part of `path` for this Params type, or None."""
    declared = params_type.__annotations__
    top = path[0]
    allowed = set(declared) - REQUEST_OPTIONS
    if top not in allowed:
        return top
    nested = [p for p in path[1:] if not p.isdigit() and p != '']
    if not nested:
        return None
    # Only where the SDK names a typed dict: metadata and lists take any key.
    module = sys.modules.get(params_type.__module__)
    inner = resolve(module, str(declared[top])) if module else None
    if inner is None:
        return None
    problem = check_key(inner, nested)
    return None if problem is None else f'{top}[{problem}]'


ROUTES = []
RECORDS = []
STUB_ENDPOINTS = {}


def find_route(method, path):
    for route_method, pattern, template, params in ROUTES:
        if route_method == method and pattern.match(path):
            return template, params
    return None, None


def stripe_error(status, code, message, param=None):
    error = {'type': 'invalid_request_error', 'code': code, 'message': message}
    if param:
        error['param'] = param
    return web.json_response({'error': error}, status=status)


async def contract(request):
    """The proxy: check, record, forward (or stub)."""
    body = await request.read()
    method = request.method
    path = request.path
    if method == 'GET' or method == 'DELETE':
        pairs = urllib.parse.parse_qsl(request.query_string, keep_blank_values=True)
    else:
        pairs = urllib.parse.parse_qsl(body.decode('utf-8', 'replace'), keep_blank_values=True)
    record = {
        'method': method,
        'path': path,
        'params': [k for k, _ in pairs],
        'values': {k: v for k, v in pairs},
        'stripe_version': request.headers.get('Stripe-Version'),
        'idempotency_key': request.headers.get('Idempotency-Key'),
        'user_agent': request.headers.get('User-Agent', ''),
        'endpoint': None,
        'violations': [],
        'dropped': [],
        'status': None,
        'at': time.time(),
    }
    RECORDS.append(record)

    if any(segment.startswith('_') for segment in path.split('/')):
        # localstripe's own test helpers (`/v1/payment_intents/{id}/_authenticate`).
        record['endpoint'] = f'{method} localstripe extension'
        status, headers, payload = await forward(request, pairs, record)
        record['status'] = status
        return web.Response(status=status, body=payload, headers=headers)

    template, params_type = find_route(method, path)
    record['endpoint'] = template and f'{method} {template}'
    if template is None:
        record['violations'].append(f'{method} {path}: no such endpoint in stripe-python {stripe.VERSION}')
        record['status'] = 404
        return stripe_error(404, 'resource_missing', f'Unrecognized request URL ({method}: {path}).')
    if params_type is not None:
        unknown = [(name, check_key(params_type, key_path(name)))
                   for name, _ in pairs if name not in AUTH_FIELDS]
        unknown = [(name, bad) for name, bad in unknown if bad]
        for name, _ in unknown:
            record['violations'].append(
                f'{record["endpoint"]}: {name} is not a parameter of {params_type.__name__} '
                f'(stripe-python {stripe.VERSION}, API {stripe.api_version})')
        if unknown:
            record['status'] = 400
            return stripe_error(400, 'parameter_unknown',
                                f'Received unknown parameter: {unknown[0][1]}', unknown[0][1])

    if template in STUB_ENDPOINTS:
        status, answer = STUB_ENDPOINTS[template](method, path, pairs)
        record['status'] = status
        record['stub'] = True
        return web.json_response(answer, status=status)

    status, headers, payload = await forward(request, pairs, record)
    record['status'] = status
    return web.Response(status=status, body=payload, headers=headers)


async def forward(request, pairs, record):
    """Sends the request to localstripe, dropping the parameters it answers
    `Unexpected ...` to (ones it predates), and returns its answer."""
    headers = {k: v for k, v in request.headers.items()
               if k.lower() in ('authorization', 'content-type', 'stripe-version', 'idempotency-key')}
    kept = list(pairs)
    for _ in range(8):
        url = LOCALSTRIPE + request.path
        data = None
        if request.method in ('GET', 'DELETE'):
            if kept:
                url += '?' + urllib.parse.urlencode(kept)
        else:
            data = urllib.parse.urlencode(kept)
            headers['Content-Type'] = 'application/x-www-form-urlencoded'
        async with SESSION.request(request.method, url, data=data, headers=headers) as answer:
            payload = await answer.read()
            status = answer.status
            passed = {k: v for k, v in answer.headers.items()
                      if k.lower() == 'content-type' or k.lower().startswith('access-control-')}
        if status == 400:
            message = json.loads(payload or b'{}').get('error', {}).get('message', '')
            unexpected = re.match(r'Unexpected (.+)$', message)
            if unexpected:
                names = {n.strip() for n in unexpected.group(1).split(',')}
                dropped = [k for k, _ in kept if key_path(k)[0] in names]
                if dropped:
                    record['dropped'].extend(dropped)
                    kept = [(k, v) for k, v in kept if key_path(k)[0] not in names]
                    continue
        return status, passed, payload
    return status, passed, payload


# --- The stub for what localstripe lacks -------------------------------------

STUB_STATE = {'webhook_endpoints': []}


def stub_account(method, path, pairs):
    return 200, {'id': 'acct_localstripe', 'object': 'account', 'country': 'US',
                 'default_currency': 'usd', 'charges_enabled': True, 'details_submitted': True,
                 'settings': {'dashboard': {'display_name': 'localstripe'}}}


def stub_webhook_endpoints(method, path, pairs):
    if method == 'GET':
        return 200, {'object': 'list', 'url': '/v1/webhook_endpoints', 'has_more': False,
                     'data': STUB_STATE['webhook_endpoints']}
    events = [v for k, v in pairs if key_path(k)[0] == 'enabled_events']
    values = dict(pairs)
    endpoint = {
        'id': 'we_' + str(len(STUB_STATE['webhook_endpoints']) + 1).rjust(14, '0'),
        'object': 'webhook_endpoint',
        'url': values.get('url'),
        'enabled_events': events,
        'api_version': values.get('api_version'),
        'description': values.get('description'),
        'status': 'enabled',
        'livemode': False,
        'secret': 'whsec_' + ''.join(f'{b:02x}' for b in str(time.time_ns()).encode())[:32],
    }
    STUB_STATE['webhook_endpoints'].append({k: v for k, v in endpoint.items() if k != 'secret'})
    return 200, endpoint


STUB_ENDPOINTS.update({
    '/v1/account': stub_account,
    '/v1/webhook_endpoints': stub_webhook_endpoints,
})


# --- The test side -----------------------------------------------------------

async def list_requests(request):
    return web.json_response(RECORDS)


async def sign(request):
    data = await request.json()
    payload = data['payload']
    header = stripe.WebhookSignature.generate_signature_header(
        payload, data['secret'], timestamp=data.get('timestamp'))
    return web.json_response({'header': header})


async def passthrough(request):
    """localstripe's own helpers (/_config, /js.stripe.com): not Stripe's API."""
    body = await request.read()
    url = LOCALSTRIPE + request.path_qs
    headers = {k: v for k, v in request.headers.items() if k.lower() in ('authorization', 'content-type')}
    async with SESSION.request(request.method, url, data=body or None, headers=headers) as answer:
        payload = await answer.read()
        passed = {k: v for k, v in answer.headers.items()
                  if k.lower() == 'content-type' or k.lower().startswith('access-control-')}
        return web.Response(status=answer.status, body=payload, headers=passed)


async def preflight(request):
    return web.Response(headers={
        'Access-Control-Allow-Origin': request.headers.get('Origin', '*'),
        'Access-Control-Allow-Methods': 'GET, POST, DELETE, OPTIONS',
        'Access-Control-Allow-Headers': request.headers.get('Access-Control-Request-Headers', '*'),
    })


def bound_socket():
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(('127.0.0.1', 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def slow_settlement(seconds):
    """Bank debits (SEPA) settle later at Stripe: their PaymentIntent stays
    `processing` until then. localstripe marks such a charge succeeded at
    once and only delays its webhook by 0.5 s; here the charge stays pending
    (the intent `processing`) for `seconds`, then succeeds."""
    import localstripe.resources as resources
    real_sleep = asyncio.sleep

    class Clock:
        def __getattr__(self, name):
            return getattr(asyncio, name)

        @staticmethod
        async def sleep(delay, *args, **kwargs):
            return await real_sleep(seconds if delay == 0.5 else delay, *args, **kwargs)

    resources.asyncio = Clock()
    charge = resources.Charge
    initialize = charge._initialize_charge

    def initialize_later(self, on_success=None, on_failure_now=None, on_failure_later=None):
        if self._authorized and self._is_async_payment_method() and self.captured:
            self.status = 'pending'
            self._trigger_payment(on_success)
            return
        initialize(self, on_success, on_failure_now, on_failure_later)

    charge._initialize_charge = initialize_later


async def main(args):
    global LOCALSTRIPE, SESSION, ROUTES
    ROUTES = sdk_routes()
    if args.settle_seconds is not None:
        slow_settlement(args.settle_seconds)
    import localstripe.server as server
    from localstripe.resources import store
    store.try_load_from_disk = lambda: None  # --from-scratch: state in memory only
    store.dump_to_disk = lambda: None

    inner_sock, outer_sock = bound_socket(), bound_socket()
    inner = web.AppRunner(server.app, access_log=None)
    await inner.setup()
    await web.SockSite(inner, inner_sock).start()
    LOCALSTRIPE = 'http://127.0.0.1:%d' % inner_sock.getsockname()[1]
    SESSION = aiohttp.ClientSession()

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_get('/_contract/requests', list_requests)
    app.router.add_post('/_contract/sign', sign)
    app.router.add_route('OPTIONS', '/{tail:.*}', preflight)
    app.router.add_route('*', '/v1/{tail:.*}', contract)
    app.router.add_route('*', '/{tail:.*}', passthrough)
    outer = web.AppRunner(app, access_log=None)
    await outer.setup()
    await web.SockSite(outer, outer_sock).start()
    print(json.dumps({
        'url': 'http://127.0.0.1:%d' % outer_sock.getsockname()[1],
        'localstripe': LOCALSTRIPE,
        'stripe_python': stripe.VERSION,
        'api_version': stripe.api_version,
    }), flush=True)

    stopped = asyncio.get_running_loop().create_future()

    def watch_stdin(loop):
        sys.stdin.read()  # returns at EOF: whoever started us is gone
        loop.call_soon_threadsafe(lambda: stopped.done() or stopped.set_result(None))

    if not args.no_stdin_watch:
        threading.Thread(target=watch_stdin, args=(asyncio.get_running_loop(),), daemon=True).start()
    await stopped


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--settle-seconds', type=float, default=None,
                        help='how long bank debits stay processing (localstripe: 0.5)')
    parser.add_argument('--no-stdin-watch', action='store_true',
                        help='keep running when standard input closes')
    try:
        asyncio.run(main(parser.parse_args()))
    except KeyboardInterrupt:
        pass
