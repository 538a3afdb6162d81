"""A real SMTP server on loopback for the tests: it keeps each message it accepts, and can be told to
stop answering in the middle of one recipient's message (a mail server that hangs while the worker
sends)."""

from __future__ import annotations

import socketserver
import threading
from email import message_from_bytes


class SmtpServer:
    def __init__(self, *, hang_for: str = "") -> None:
        self.messages: list = []
        self.hanging = threading.Event()  # set when the hang_for message has been received
        self.release = threading.Event()
        server = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.wfile.write(b"220 test ESMTP\r\n")
                recipients: list[str] = []
                while line := self.rfile.readline():
                    command = line.decode("ascii", "replace").strip()
                    verb = command.split(" ", 1)[0].upper()
                    if verb in {"EHLO", "HELO"}:
                        self.wfile.write(b"250 test\r\n")
                    elif verb == "MAIL":
                        recipients = []
                        self.wfile.write(b"250 OK\r\n")
                    elif verb == "RCPT":
                        recipients.append(command.split(":", 1)[1].strip(" <>"))
                        self.wfile.write(b"250 OK\r\n")
                    elif verb == "DATA":
                        self.wfile.write(b"354 go ahead\r\n")
                        data = b""
                        while (chunk := self.rfile.readline()) not in {b".\r\n", b""}:
                            data += chunk
                        if server_hangs(recipients):
                            server.hanging.set()
                            server.release.wait(120)
                            return
                        server.messages.append(message_from_bytes(data))
                        self.wfile.write(b"250 queued\r\n")
                    elif verb == "QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    else:
                        self.wfile.write(b"250 OK\r\n")

        def server_hangs(recipients: list[str]) -> bool:
            return bool(hang_for) and hang_for in recipients

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]

    def __enter__(self) -> SmtpServer:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()

    def recipients(self) -> list[str]:
        return sorted(m["To"] for m in self.messages)
