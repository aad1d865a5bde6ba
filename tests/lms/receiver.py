#!/usr/bin/env python3
"""A learning platform's webhook endpoint, for kasir's tests.

It checks each delivery's `Kasir-Signature` with the `verify` function the
README gives LMS developers (extracted from README.md and run as is, so the
README's code is what is tested), then records the event.

usage: receiver.py --secret SECRET
Prints one JSON line {"url": ...} once listening; exits when its standard
input closes.

  POST /hooks         a delivery: 400 when the signature is wrong, 503 while
                      told to fail, else 200 and recorded
  GET  /_received     every delivery answered 200, in order:
                      [{"event_id", "type", "body"}]
  GET  /_answers      how many deliveries got each status: {"200": n, ...}
  POST /_fail?n=N     answer the next N good deliveries 503 (N=-1: until
                      told otherwise; N=0: stop failing)
"""
import argparse
import json
import pathlib
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def readme_verify():
    """The README's `verify`, between its lms-verify markers."""
    text = README.read_text()
    block = re.search(r"<!-- lms-verify -->\s*```python\n(.*?)```", text, re.S)
    if not block:
        sys.exit("README.md has no <!-- lms-verify --> python block")
    scope = {}
    exec(block.group(1), scope)  # noqa: S102 - our own README, on purpose
    return scope["verify"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--secret", required=True)
    args = parser.parse_args()
    verify = readme_verify()
    lock = threading.Lock()
    state = {"fail": 0, "received": [], "answers": {}}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_):
            pass

        def reply(self, status, payload):
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            with lock:
                if self.path == "/_received":
                    return self.reply(200, state["received"])
                if self.path == "/_answers":
                    return self.reply(200, state["answers"])
            self.reply(404, {"error": "no such path"})

        def do_POST(self):
            url = urlparse(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if url.path == "/_fail":
                with lock:
                    state["fail"] = int(parse_qs(url.query).get("n", ["0"])[0])
                return self.reply(200, {"fail": state["fail"]})
            if url.path != "/hooks":
                return self.reply(404, {"error": "no such path"})
            if not verify(body, self.headers.get("Kasir-Signature", ""), args.secret):
                status, answer = 400, {"error": "bad signature"}
            else:
                with lock:
                    failing = state["fail"] != 0
                    if state["fail"] > 0:
                        state["fail"] -= 1
                    if not failing:
                        event = json.loads(body)
                        state["received"].append({
                            "event_id": self.headers.get("Kasir-Event-Id"),
                            "type": event["type"],
                            "body": event,
                        })
                status, answer = (503, {"error": "down"}) if failing else (200, {"ok": True})
            with lock:
                state["answers"][str(status)] = state["answers"].get(str(status), 0) + 1
            self.reply(status, answer)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps({"url": f"http://127.0.0.1:{server.server_address[1]}"}), flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
