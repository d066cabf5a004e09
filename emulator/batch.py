"""JSON batching: ``POST /v1.0/$batch`` (graph-reference C.3).

At most 20 requests (else 400 for the whole batch); ids unique (case-insensitive); a body needs a ``Content-Type``
header; ``dependsOn`` sequences items and a failed parent makes its dependants fail with 424; every item runs through
the same pipeline as a real request (auth, per (app, mailbox) throttling with its own 429 + ``Retry-After``, faults,
counters); at most 4 items run in parallel (``batch_parallelism``); the batch itself answers 200 and the responses come
back in completion order.
"""

import base64
import json
import re
from concurrent.futures import ThreadPoolExecutor

from .errors import GraphError
from .server import Headers, Request, json_response

_ABSOLUTE = re.compile(r"^https?://[^/]+(/v1\.0)?", re.IGNORECASE)


def routes(router, emu):
    router.add("POST", "/v1.0/$batch", BatchAPI(emu).batch, "batch")


def _invalid(message):
    return GraphError(400, "BadRequest", message)


class BatchAPI:
    def __init__(self, emu):
        self.emu = emu

    def batch(self, request):
        body = request.json()
        items = body.get("requests")
        if not isinstance(items, list) or not items:
            raise _invalid("Invalid batch payload format: a non-empty 'requests' array is required.")
        limit = int(self.emu.settings["batch_max"])
        if len(items) > limit:
            raise _invalid(f"Number of batch request steps exceeds the maximum of {limit}.")
        self._validate(items)
        results = self._run(items, request)
        return json_response({"responses": results})

    @staticmethod
    def _validate(items):
        seen = set()
        for item in items:
            if not isinstance(item, dict) or not all(
                isinstance(item.get(k), str) and item.get(k) for k in ("id", "method", "url")
            ):
                raise _invalid("Invalid batch payload format: every request needs id, method and url.")
            if not isinstance(item.get("headers") or {}, dict) or not isinstance(item.get("dependsOn") or [], list):
                raise _invalid("Invalid batch payload format: headers must be an object and dependsOn an array.")
            if item["id"].lower() in seen:
                raise _invalid(f"Batch request contains duplicate Id '{item['id']}'.")
            seen.add(item["id"].lower())
            headers = Headers((item.get("headers") or {}).items())
            if item.get("body") is not None and "Content-Type" not in headers:
                raise _invalid(f"Write request id : {item['id']} does not contain Content-Type header or body.")
        for item in items:
            for parent in item.get("dependsOn") or []:
                if str(parent).lower() not in seen:
                    raise _invalid(f"Request id {item['id']} depends on unknown request id {parent}.")

    def _run(self, items, outer):
        """Execute in waves: every item whose parents are done; at most ``batch_parallelism`` at a time."""
        pending = {item["id"].lower(): item for item in items}
        done, results = {}, []
        workers = max(1, int(self.emu.settings["batch_parallelism"]))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="emulator-batch") as pool:
            while pending:
                ready = [
                    item
                    for item in pending.values()
                    if all(str(p).lower() in done for p in item.get("dependsOn") or [])
                ]
                if not ready:  # a dependency cycle: fail what is left
                    ready = list(pending.values())
                futures = [(item, pool.submit(self._one, item, outer, done)) for item in ready]
                for item, future in futures:
                    result = future.result()
                    done[item["id"].lower()] = result["status"]
                    results.append(result)
                    pending.pop(item["id"].lower())
        return results

    def _one(self, item, outer, done):
        parents = [str(p).lower() for p in item.get("dependsOn") or []]
        if any(done.get(p, 424) >= 400 for p in parents):
            return {
                "id": item["id"],
                "status": 424,
                "headers": {"Content-Type": "application/json"},
                "body": {"error": {"code": "FailedDependency", "message": "Failed dependency"}},
            }
        request = self._sub_request(item, outer)
        route, params = self.emu.router.match(request.method, request.path)
        if route is None or route.area not in ("graph", "batch") or route.area == "batch":
            error = GraphError(400, "BadRequest", f"Resource not found for the segment in '{item['url']}'.")
            response = self.emu._graph_error(error, request, "batch-item")
        else:
            response = self.emu.process(request, route, params)
        return self._result(item["id"], response)

    @staticmethod
    def _sub_request(item, outer):
        url = _ABSOLUTE.sub("", item["url"].strip())
        path = "/v1.0" + (url if url.startswith("/") else "/" + url)
        headers = Headers((item.get("headers") or {}).items())
        headers["Authorization"] = outer.headers.get("Authorization") or ""
        if "client-request-id" not in headers and outer.headers.get("client-request-id"):
            headers["client-request-id"] = outer.headers["client-request-id"]
        body = item.get("body")
        if body is None:
            raw = b""
        elif isinstance(body, (dict, list)):
            raw = json.dumps(body).encode("utf-8")
        else:
            raw = str(body).encode("utf-8")
        request = Request(item["method"], path, headers, raw, outer.client)
        request.batch_item = True
        return request

    @staticmethod
    def _result(item_id, response):
        if response.drop:
            return {
                "id": item_id,
                "status": 504,
                "headers": {"Content-Type": "application/json"},
                "body": {"error": {"code": "UnknownError", "message": "The operation has timed out."}},
            }
        headers = {
            k.title() if k not in ("request-id", "client-request-id") else k: v for k, v in response.headers.items()
        }
        result = {"id": item_id, "status": response.status, "headers": headers}
        if response.body:
            parsed = response.json()
            result["body"] = parsed if parsed is not None else base64.b64encode(response.body).decode("ascii")
        return result
