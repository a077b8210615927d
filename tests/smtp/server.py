"""A real SMTP server for the end-to-end tests (aiosmtpd).

Each accepted message is parsed with Python's email package and written to
DIR/<n>.json as {"rcpt": [...], "from": ..., "to": ..., "subject": ...,
"text": ..., "html": ..., "raw": ...}, atomically (temp file + rename).

  server.py --port N --dir DIR [--tls none|starttls|tls --cert C --key K]
            [--user U --password P]
"""

import argparse
import json
import os
import ssl
import threading
import time
from email import policy
from email.parser import BytesParser

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--dir", required=True)
ap.add_argument("--tls", choices=["none", "starttls", "tls"], default="none")
ap.add_argument("--cert")
ap.add_argument("--key")
ap.add_argument("--user")
ap.add_argument("--password")
args = ap.parse_args()


class Handler:
    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        message = BytesParser(policy=policy.default).parsebytes(raw)
        text = message.get_body(preferencelist=("plain",))
        html = message.get_body(preferencelist=("html",))
        record = {
            "rcpt": list(envelope.rcpt_tos),
            "mail_from": envelope.mail_from,
            "from": str(message.get("From", "")),
            "to": str(message.get("To", "")),
            "subject": str(message.get("Subject", "")),
            "content_type": message.get_content_type(),
            "text": text.get_content() if text is not None else None,
            "html": html.get_content() if html is not None else None,
            "raw": raw.decode("utf-8", "replace"),
        }
        with self.lock:
            self.count += 1
            n = self.count
        name = os.path.join(args.dir, "%06d.json" % n)
        with open(name + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(name + ".tmp", name)
        return "250 Message accepted for delivery"


def authenticator(server, session, envelope, mechanism, auth_data):
    if (
        isinstance(auth_data, LoginPassword)
        and auth_data.login.decode() == args.user
        and auth_data.password.decode() == args.password
    ):
        return AuthResult(success=True)
    return AuthResult(success=False, handled=False)


kwargs = {}
context = None
if args.tls != "none":
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(args.cert, args.key)
if args.tls == "starttls":
    kwargs["tls_context"] = context
    kwargs["require_starttls"] = True
if args.user:
    kwargs["authenticator"] = authenticator
    kwargs["auth_required"] = True
    kwargs["auth_require_tls"] = args.tls != "none"

controller = Controller(
    Handler(),
    hostname="127.0.0.1",
    port=args.port,
    ssl_context=context if args.tls == "tls" else None,
    server_hostname="localhost",
    **kwargs,
)
controller.start()
print("READY", flush=True)
try:
    while True:
        time.sleep(3600)
finally:
    controller.stop()
