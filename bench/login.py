#!/usr/bin/env python3
"""Logs seeded benchmark users in and prints "cookie<TAB>csrf" per user.

usage: login.py BASE_URL PASSWORD EMAIL... (or emails on stdin)
Standard library only; a few threads, since each login is a few requests.
"""
import concurrent.futures
import html
import http.cookiejar
import re
import sys
import urllib.parse
import urllib.request

CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def login(base, email, password):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(jar), NoRedirect
    )

    def token():
        with opener.open(base + "/login") as page:
            found = CSRF.search(page.read().decode())
        if not found:
            raise SystemExit(f"no CSRF token on {base}/login")
        return html.unescape(found.group(1))

    form = urllib.parse.urlencode(
        {"email": email, "password": password, "csrf_token": token()}
    ).encode()
    try:
        opener.open(base + "/login", data=form)
        raise SystemExit(f"login of {email} did not redirect (wrong password?)")
    except urllib.error.HTTPError as answer:
        if answer.code != 303:
            raise SystemExit(f"login of {email}: HTTP {answer.code}")
    # The session is renewed at login: read the token of the new one.
    with opener.open(base + "/") as page:
        csrf = html.unescape(CSRF.search(page.read().decode()).group(1))
    cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
    return f"{cookie}\t{csrf}"


def main():
    base, password, *emails = sys.argv[1:]
    if not emails:
        emails = [line.strip() for line in sys.stdin if line.strip()]
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        for line in pool.map(lambda e: login(base, e, password), emails):
            print(line)


if __name__ == "__main__":
    main()
