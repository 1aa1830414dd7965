#!/usr/bin/python3
"""A real XEP-0363 client for the end-to-end upload tests (slixmpp + aiohttp, Debian packages).

It logs in to the throwaway Prosody (scripts/prosody-test.sh), asks the upload component for a
slot, PUTs the file to the slot's PUT URL the way slixmpp's own upload_file does (Content-Length,
Content-Type and the slot's headers, aiohttp), optionally again (a second PUT of one slot must be
refused with 409) and optionally GETs the GET URL. It prints one JSON object on stdout:

  {"slot": {"put": URL, "get": URL, "headers": {NAME: VALUE}},
   "puts": [{"status": 201, "body": "..."}, ...],
   "get": {"status": 200, "size": N, "sha256": HEX, "headers": {...}},
   "error": "..."}            # only when something failed; the exit status is then 1

slixmpp 1.8's service discovery raises on Python 3.11, so the slot is requested from the
component JID directly (request_slot), not through upload_file.
"""
import argparse
import asyncio
import hashlib
import json
import logging
import ssl
import sys

import aiohttp
from slixmpp import ClientXMPP, JID


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--jid", required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--service", default="upload.localhost")
    p.add_argument("--file", required=True, help="path of the bytes to upload")
    p.add_argument("--name", help="file name announced in the slot request (default: the file's)")
    p.add_argument("--content-type", default="application/octet-stream")
    p.add_argument("--size", type=int, help="size announced in the slot request (default: the file's)")
    p.add_argument("--puts", type=int, default=1, help="how many times to PUT the same slot (0: none)")
    p.add_argument("--get", action="store_true", help="GET the GET URL after the PUTs")
    p.add_argument("--timeout", type=float, default=20)
    p.add_argument("--debug", action="store_true")
    return p.parse_args()


async def put_and_get(args, slot, data):
    out = {"puts": []}
    headers = {
        "Content-Length": str(len(data)),
        "Content-Type": args.content_type,
        **slot["headers"],
    }
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    async with aiohttp.ClientSession(headers={"User-Agent": "slixmpp-e2e"}, timeout=timeout) as session:
        for _ in range(args.puts):
            async with session.put(slot["put"], data=data, headers=headers) as r:
                body = await r.text(errors="replace")
                out["puts"].append({"status": r.status, "body": body[:512]})
        if args.get:
            async with session.get(slot["get"]) as r:
                body = await r.read()
                out["get"] = {
                    "status": r.status,
                    "size": len(body),
                    "sha256": hashlib.sha256(body).hexdigest(),
                    "headers": {k: v for k, v in r.headers.items()},
                }
    return out


class Client(ClientXMPP):
    def __init__(self, args, data):
        super().__init__(args.jid, args.password)
        self.args, self.data = args, data
        self.result = {}
        self.done = asyncio.get_event_loop().create_future()
        self.register_plugin("xep_0363")
        # The throwaway server's certificate is self-signed.
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("failed_auth", lambda _: self.fail("authentication failed"))
        self.add_event_handler("connection_failed", lambda e: self.fail(f"connection failed: {e}"))

    def fail(self, msg):
        if not self.done.done():
            self.result["error"] = msg
            self.done.set_result(None)

    async def on_start(self, _):
        try:
            a = self.args
            iq = await self.plugin["xep_0363"].request_slot(
                JID(a.service), a.name, a.size, a.content_type, timeout=a.timeout)
            s = iq["http_upload_slot"]
            slot = {
                "put": s["put"]["url"],
                "get": s["get"]["url"],
                "headers": {h["name"]: h["value"] for h in s["put"]["headers"]},
            }
            self.result["slot"] = slot
            self.result.update(await put_and_get(a, slot, self.data))
        except Exception as e:  # report every failure as JSON for the Go side
            self.result["error"] = f"{type(e).__name__}: {e}"
        finally:
            if not self.done.done():
                self.done.set_result(None)
            self.disconnect()


def main():
    args = parse_args()
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.ERROR, stream=sys.stderr)
    with open(args.file, "rb") as f:
        data = f.read()
    if args.name is None:
        args.name = args.file.rsplit("/", 1)[-1]
    if args.size is None:
        args.size = len(data)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    c = Client(args, data)
    c.connect(address=(args.host, args.port), force_starttls=True)
    try:
        loop.run_until_complete(asyncio.wait_for(c.done, args.timeout + 5))
    except asyncio.TimeoutError:
        c.result["error"] = "timed out"
    json.dump(c.result, sys.stdout)
    sys.stdout.write("\n")
    sys.exit(1 if "error" in c.result else 0)


if __name__ == "__main__":
    main()
