#!/usr/bin/env python3
"""A real SMTP server (aiosmtpd) for kasir's tests, with a small HTTP side
door to read what it received and to make it refuse mail for a while.

usage: smtp_server.py
Prints one JSON line {"smtp_port": ..., "url": ...} once listening; exits
when its standard input closes.

  GET  /_messages   every mail accepted, in order: [{"from", "to", "raw",
                    "subject", "text", "html"}] (the parts decoded by
                    Python's email package)
  POST /_fail?n=N   answer the next N mails "451 try again later"
                    (N=-1: until told 0)
"""
import email
import email.policy
import json
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from aiosmtpd.controller import Controller

lock = threading.Lock()
state = {"fail": 0, "messages": []}


class Handler:
    async def handle_DATA(self, server, session, envelope):
        with lock:
            if state["fail"] != 0:
                if state["fail"] > 0:
                    state["fail"] -= 1
                return "451 4.3.0 Try again later"
            parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)

            def part(kind):
                body = parsed.get_body(preferencelist=(kind,))
                return body.get_content() if body else ""

            state["messages"].append({
                "from": envelope.mail_from,
                "to": envelope.rcpt_tos,
                "raw": envelope.content.decode("utf-8", "replace"),
                "subject": str(parsed["subject"] or ""),
                "text": part("plain"),
                "html": part("html"),
            })
        return "250 Message accepted for delivery"


class Control(BaseHTTPRequestHandler):
    def log_message(self, *_):
        pass

    def reply(self, payload):
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        with lock:
            self.reply(state["messages"])

    def do_POST(self):
        url = urlparse(self.path)
        with lock:
            state["fail"] = int(parse_qs(url.query).get("n", ["0"])[0])
            self.reply({"fail": state["fail"]})


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    control = ThreadingHTTPServer(("127.0.0.1", 0), Control)
    threading.Thread(target=control.serve_forever, daemon=True).start()
    print(json.dumps({
        "smtp_port": port,
        "url": f"http://127.0.0.1:{control.server_address[1]}",
    }), flush=True)
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
