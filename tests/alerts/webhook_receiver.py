"""A webhook receiver for the alert tests: ``python -m tests.alerts.webhook_receiver PORT OUT``.

Serves on 127.0.0.1:PORT, appends every POST as one JSON line (path, content type, body
parsed as JSON) to OUT and answers 204, like a chat service's incoming webhook.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def main() -> None:
    port, out = int(sys.argv[1]), sys.argv[2]

    class Receiver(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # readiness probe
            self.send_response(200)
            self.end_headers()

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            record = {
                "path": self.path,
                "content_type": self.headers["Content-Type"],
                "body": json.loads(body),
            }
            with open(out, "a", encoding="utf-8") as file:
                file.write(json.dumps(record) + "\n")
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", port), Receiver).serve_forever()


if __name__ == "__main__":
    main()
