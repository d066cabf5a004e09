"""A tiny webhook endpoint for the engine suite: stdlib ``http.server`` on 127.0.0.1 in a thread."""

import collections
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class Receiver:
    """A webhook endpoint: echoes validation tokens, answers 202 to notifications, records everything.

    ``script`` holds answers for the next requests (``{"status", "body", "content_type", "delay"}``; a ``body`` of
    None echoes the validation token).
    """

    def __init__(self):
        self.requests = []
        self.script = collections.deque()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                parts = urlsplit(self.path)
                query = {key: values[0] for key, values in parse_qs(parts.query).items()}
                with receiver.lock:
                    receiver.requests.append(
                        {
                            "path": parts.path,
                            "query": query,
                            "headers": dict(self.headers),
                            "body": body,
                            "at": time.monotonic(),
                        }
                    )
                    answer = receiver.script.popleft() if receiver.script else {}
                time.sleep(answer.get("delay", 0))
                token = query.get("validationToken")
                if token is not None:
                    status, content_type = answer.get("status", 200), answer.get("content_type", "text/plain")
                    text = answer["body"] if answer.get("body") is not None else token
                else:
                    status, content_type, text = answer.get("status", 202), "text/plain", answer.get("body", "")
                data = text.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path="/notify"):
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def stop(self):
        self.server.shutdown()
        self.server.server_close()

    def validations(self):
        with self.lock:
            return [r for r in self.requests if "validationToken" in r["query"]]

    def posts(self, path="/notify"):
        with self.lock:
            return [r for r in self.requests if "validationToken" not in r["query"] and r["path"] == path]

    def notifications(self, path="/notify"):
        return [item for r in self.posts(path) for item in json.loads(r["body"])["value"]]
