"""An SMTP server that *requires* TLS and a login, for alm's SMTP tests (aiosmtpd, PyPI).

    python smtp_server.py --listen 127.0.0.1:PORT --maildir DIR --mode starttls|tls \
        --cert CERT.pem --key KEY.pem --user USER --password-file FILE

`starttls`: every command but EHLO/HELO/NOOP/QUIT/STARTTLS is refused before STARTTLS, AUTH is
offered only inside TLS, and MAIL is refused until AUTH succeeded. `tls`: TLS from the first
byte (a plain client gets nowhere), then the same login requirement. Each message lands in the
maildir's `new/` with the Mailbox handler's `X-MailFrom`/`X-RcptTo` headers, plus `X-Alm-Tls`
(the TLS version the message came over) and `X-Alm-Auth` (the login name it was sent under),
so a test sees how it arrived, not only that it did. The password is read from a file, never
from the command line (which `ps` shows).
"""

import argparse
import asyncio
import signal
import ssl

from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class RecordingMailbox(Mailbox):
    async def handle_DATA(self, server, session, envelope):
        ssl_object = server.transport.get_extra_info("ssl_object")
        tls = ssl_object.version() if ssl_object is not None else "none"
        auth = session.auth_data if session.authenticated else "none"
        if isinstance(auth, bytes):
            auth = auth.decode("utf-8", "replace")
        extra = f"X-Alm-Tls: {tls}\r\nX-Alm-Auth: {auth}\r\n".encode()
        envelope.content = extra + envelope.original_content
        return await super().handle_DATA(server, session, envelope)


def authenticator(user, password):
    def check(server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = auth_data.login.decode() == user and auth_data.password.decode() == password
        return AuthResult(success=ok, handled=False, auth_data=user if ok else None)

    return check


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", required=True)
    p.add_argument("--maildir", required=True)
    p.add_argument("--mode", choices=["starttls", "tls"], required=True)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--user", required=True)
    p.add_argument("--password-file", required=True)
    a = p.parse_args()
    host, port = a.listen.rsplit(":", 1)
    with open(a.password_file, encoding="utf-8") as f:
        password = f.read().strip()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(a.cert, a.key)
    handler = RecordingMailbox(a.maildir)
    check = authenticator(a.user, password)

    def factory():
        if a.mode == "starttls":
            return SMTP(handler, tls_context=context, require_starttls=True,
                        auth_required=True, auth_require_tls=True, authenticator=check)
        # Implicit TLS: the whole connection is TLS already, which aiosmtpd's
        # auth_require_tls (a STARTTLS notion) cannot see; the listener below guarantees it.
        return SMTP(handler, auth_required=True, auth_require_tls=False, authenticator=check)

    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        factory, host, int(port), ssl=context if a.mode == "tls" else None)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"listening on {a.listen} ({a.mode})", flush=True)
    await stop.wait()
    server.close()
    await server.wait_closed()


if __name__ == "__main__":
    asyncio.run(main())
