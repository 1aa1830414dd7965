#!/usr/bin/env python3
"""Writes corpus.jsonl (the hostile-input corpus of internal/hostile). Run from this folder.

Placeholders ({{Q}}, {{INFO:..}}, {{REP:n|x}}, {{HEX:..}}, ...) are expanded by the test
(internal/hostile/harness_test.go, func expand) so signatures are computed with the test key
and huge or binary requests stay readable here. Expected answers are SPEC §3/§5 messages."""
import json

items = []
def add(name, cat, status, message=None, reach="none", **kw):
    it = {"name": name, "cat": cat, "status": status}
    if message is not None:
        it["message"] = message
    it["reach"] = reach
    it.update(kw)
    items.append(it)

P401 = lambda m: dict(status=401, message=m)

# ---- path traversal (proxy: BLACKLIST /private block) --------------------------------------
trav_block = [  # dot segments are removed before the policy: all land on /private -> 403
    "/public/../private/secret.txt", "/public/%2e%2e/private/secret.txt", "/public/%2E%2E/private/secret.txt",
    "/public/.%2e/private/secret.txt", "/public/%2e./private/secret.txt", "/a/b/../../private/secret.txt",
    "/./private/secret.txt", "/%2e/private/secret.txt", "/private/./secret.txt", "/x/%2e%2E/private/secret.txt",
    "/../private/secret.txt", "/../../../../private/secret.txt", "/%2e%2e/%2e%2e/private/secret.txt",
    "/private/secret.txt", "/private/secret.txt?{{Q:/private/secret.txt}}",
    "/%00/../private/secret.txt", "/ok.txt;/../private/secret.txt",
]
for i, t in enumerate(trav_block):
    add(f"trav-block-{i}", "traversal", 403, "access denied", target=t)
# an encoded slash that makes a dot segment after decoding: refused (see TestSkipSignTraversal)
for i, t in enumerate(["/public/..%2fprivate/secret.txt", "/public/%2e%2e%2fprivate/secret.txt", "/public/.%2e%2Fprivate/secret.txt",
                       "/public%2f..%2fprivate%2fsecret.txt", "/a/.%2f..%2fprivate/secret.txt", "/public/..%2F"]):
    add(f"trav-encslash-{i}", "traversal", 400, "invalid path encoding", target=t)
# AList cleans every path (`\\` -> `/`, then path.Clean): a `..` built with a backslash would
# resolve out of the prefix the policy saw -> 400 (sign.ServedPath); NUL is never a name -> 400
for i, t in enumerate(["/public/..%5cprivate/secret.txt", "/public/..\\private/secret.txt",
                       "/public/%2e%2e%5cprivate/secret.txt", "/public/x%5c..", "/ok.txt%00.jpg", "/ok.txt%00",
                       "/public/..%00/private/secret.txt"]):
    add(f"trav-served-{i}", "traversal", 400, "invalid path encoding", target=t)
# `//` is collapsed by AList: the policy sees /private/... -> blocked
for i, t in enumerate(["/%2fprivate/secret.txt", "//private/secret.txt", "/private//secret.txt", "/private%5csecret.txt",
                       "/private/"]):
    add(f"trav-slashes-{i}", "traversal", 403, "access denied", target=t)
trav_401 = [  # not dot segments for a URL parser nor for AList: the path keeps them; no signature -> 401
    "/Private/secret.txt", "/PRIVATE/secret.txt", "/public/...%2fprivate", "/public/..a%2fprivate",
    "/public/%252e%252e/private/secret.txt", "/public/%25%32%65%25%32%65/private/secret.txt",
    "/public/..%252fprivate/secret.txt", "/public/%20../private/secret.txt",
]
for i, t in enumerate(trav_401):
    add(f"trav-unsigned-{i}", "traversal", **P401("sign missing"), target=t)
# overlong / invalid UTF-8 spellings of '.' and '/': not valid UTF-8 after one decode -> 400
for i, t in enumerate(["/public/%c0%ae%c0%ae/private/secret.txt", "/public/%c0%af..%c0%afprivate",
                       "/public/%e0%80%ae%e0%80%ae/private", "/public/%f0%80%80%ae/private", "/public/..%c0%af../private",
                       "/public/%c1%9c..", "/public/%fe%ff", "/%ff", "/%80", "/ok.txt%c3", "/ok.txt%c3%28",
                       "/%ed%a0%80", "/%f4%90%80%80", "/%f8%88%80%80%80", "/{{HEX:ff}}", "/{{HEX:c0ae}}{{HEX:c0ae}}/private",
                       "/ok{{HEX:80}}.txt"]):
    add(f"trav-overlong-{i}", "traversal-utf8", 400, "invalid path encoding", target=t)

# local folder origin, /pub skips every signature: the folder must confine every spelling
# escaping the folder is refused by the origin (os.Root) with 403; other odd names are misses
# encoded-slash dot segments never reach the folder (400); os.Root is the second line
for i, t in enumerate(["/pub/..%2f..%2f{{OUTSIDE}}", "/pub/%2e%2e%2f%2e%2e%2f{{OUTSIDE}}",
                       "/pub/..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd", "/pub/..%2f..%2fproc%2fself%2fenviron",
                       "/pub%2f..%2f..%2f{{OUTSIDE}}", "/pub/..%2fprivate%2fsecret.txt", "/pub/..%2fprivate/secret.txt",
                       "/pub/..%2f..%2f..%2f{{OUTSIDE}}%00"]):
    add(f"local-trav-{i}", "traversal-local", 400, "invalid path encoding", service="local", target=t)
# on Linux `\\` is a byte of a name, not a separator: a miss
for i, t in enumerate(["/pub/..%5c..%5c{{OUTSIDE}}", "/pub/missing.txt", "/pub/%2fetc%2fpasswd"]):
    add(f"local-miss-{i}", "traversal-local", 404, "object not found", reach="db", service="local", target=t)
for i, t in enumerate(["/pub/ok.txt%00", "/pub/ok.txt%00.jpg"]):
    add(f"local-nul-{i}", "traversal-local", 400, "invalid path encoding", service="local", target=t)
add("local-slashes", "traversal-local", 200, reach="db", service="local", target="//pub//ok.txt")
add("local-trav-dots-out", "traversal-local", 401, "sign missing", service="local", target="/pub/%2e%2e/%2e%2e/etc/passwd")
add("local-ok", "traversal-local", 200, reach="db", service="local", target="/pub/ok.txt")

# ---- malformed escapes ---------------------------------------------------------------------
for i, t in enumerate(["/%", "/%g1", "/%2", "/ok.txt%", "/ok%2.txt", "/%%32%65", "/%zz/..", "/%-1", "/% 2e"]):
    if " " in t:
        continue
    add(f"escape-{i}", "encoding", 400, plain=True, target=t)  # net/http: invalid URL escape

# ---- request line / control bytes (net/http refuses some itself: plain-text 400) -----------
for i, t in enumerate(["/ok{{HEX:00}}.txt", "/ok{{HEX:7f}}.txt", "/ok{{HEX:0b}}.txt", "/ok{{HEX:1b}}[31m.txt",
                       "/ok{{HEX:0d}}.txt"]):
    add(f"ctl-target-{i}", "control", 400, plain=True, target=t)
add("ctl-space", "control", 400, plain=True, target="/ok .txt")
add("ctl-space-dots", "control", 400, plain=True, target="/public/.. /private")
add("ctl-u-escape", "control", 400, plain=True, target="/%u002e%u002e/private/secret.txt")
add("ctl-crlf-encoded", "control", **P401("sign missing"), target="/ok%0d%0aSet-Cookie:%20x=1")
add("ctl-nul-encoded", "control", 400, "invalid path encoding", target="/ok%00%01%02%1f.txt")  # NUL: sign.ServedPath
add("ctl-encoded", "control", **P401("sign missing"), target="/ok%01%02%1f%7f.txt")  # other control bytes are name bytes
add("ctl-hdr-nul", "control", 400, plain=True, target="/ok.txt", headers=[["X-A", "a{{HEX:00}}b"]])
add("ctl-hdr-cr", "control", 400, plain=True, target="/ok.txt", headers=[["X-A", "a{{HEX:0d}}b"]])
add("ctl-hdr-name-space", "control", 400, plain=True, target="/ok.txt", headers=[["X A", "b"]])
add("ctl-hdr-name-colon", "control", 400, plain=True, target="/ok.txt", headers=[["", "b"]])
add("ctl-hdr-injected-crlf", "control", **P401("sign missing"), target="/ok.txt", headers=[["X-A", "a\r\nX-Forwarded-For: 1.2.3.4"]])
add("ctl-hdr-obsfold", "control", **P401("sign missing"), target="/ok.txt", headers=[["X-A", "a\r\n folded"]])
add("ctl-hdr-utf8", "control", **P401("sign missing"), target="/ok.txt", headers=[["X-A", "{{HEX:fffe}}"]])
add("ctl-origin-crlf", "control", **P401("sign missing"), target="/ok.txt", headers=[["Origin", "https://a.example"]])
add("ctl-ip-ctl", "control", 400, plain=True, target="/ok.txt?{{Q}}", headers=[["CF-Connecting-IP", "203.0.113.7{{HEX:00}}"]])

# ---- protocol oddities ---------------------------------------------------------------------
add("proto-no-host", "protocol", 400, plain=True, raw="GET /ok.txt HTTP/1.1\r\nConnection: close\r\n\r\n")
add("proto-two-hosts", "protocol", 400, plain=True, raw="GET /ok.txt HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n")
add("proto-bad-version", "protocol", 505, plain=True, raw="GET /ok.txt HTTP/9.9\r\nHost: a\r\nConnection: close\r\n\r\n")
add("proto-garbage-version", "protocol", 400, plain=True, raw="GET /ok.txt FOO\r\nHost: a\r\nConnection: close\r\n\r\n")
add("proto-h2-preface", "protocol", 405, "method not allowed", raw="PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
add("proto-asterisk", "protocol", **P401("sign missing"), raw="GET * HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
add("proto-absolute-form", "protocol", **P401("sign missing"), raw="GET http://evil.example/ok.txt HTTP/1.1\r\nHost: a\r\nCF-Connecting-IP: 203.0.113.7\r\nConnection: close\r\n\r\n")
add("proto-absolute-form-signed", "protocol", 200, reach="upstream", raw="GET http://evil.example/ok.txt?{{Q}} HTTP/1.1\r\nHost: a\r\nCF-Connecting-IP: 203.0.113.7\r\nConnection: close\r\n\r\n")
add("proto-http10", "protocol", **P401("sign missing"), raw="GET /ok.txt HTTP/1.0\r\nCF-Connecting-IP: 203.0.113.7\r\n\r\n")
add("proto-te-cl", "protocol", **P401("sign missing"), raw="GET /ok.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n")
add("proto-bad-cl", "protocol", 400, plain=True, raw="GET /ok.txt HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\nConnection: close\r\n\r\n")
add("proto-two-cl", "protocol", 400, plain=True, raw="GET /ok.txt HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\nConnection: close\r\n\r\n")
add("proto-bad-te", "protocol", 501, plain=True, raw="GET /ok.txt HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\n")
add("proto-lf-only", "protocol", **P401("sign missing"), raw="GET /ok.txt HTTP/1.1\nHost: a\nCF-Connecting-IP: 203.0.113.7\nConnection: close\n\n")
add("proto-empty-target", "protocol", 400, plain=True, raw="GET  HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
add("proto-relative-target", "protocol", 400, plain=True, raw="GET ok.txt HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")

# ---- methods -------------------------------------------------------------------------------
for m in ["POST", "PUT", "DELETE", "PATCH", "TRACE", "BREW", "get", "PROPFIND"]:
    add(f"method-{m}", "method", 405, "method not allowed", method=m, target="/ok.txt?{{Q}}")
add("method-options", "method", 204, method="OPTIONS", target="/ok.txt", headers=[["Origin", "https://evil.example"], ["Access-Control-Request-Method", "GET"]])
add("method-head-unsigned", "method", 401, "sign missing", method="HEAD", target="/ok.txt")

# ---- query: duplicated and conflicting parameters ------------------------------------------
add("dup-sign-bad-first", "query", **P401("sign mismatch"), target="/ok.txt?sign=AAAA:0&{{Q}}")
add("dup-sign-empty-first", "query", **P401("sign missing"), target="/ok.txt?sign=&{{Q}}")
add("dup-sign-good-first", "query", 200, reach="upstream", target="/ok.txt?{{Q}}&sign=AAAA:0")
add("dup-hashsign-bad-first", "query", **P401("hashSign mismatch"), target="/ok.txt?hashSign=x:0&{{Q}}")
add("dup-ipsign-bad-first", "query", **P401("ipSign mismatch"), target="/ok.txt?ipSign=x:0&{{Q}}")
add("dup-info-bad-first", "query", **P401("additionalInfoSign mismatch"), target="/ok.txt?additionalInfo=e30&{{Q}}")
add("dup-workersign-bad-first", "query", **P401("workerSign mismatch"), target="/ok.txt?workerSign=x:0&{{Q}}")
add("query-case", "query", **P401("sign missing"), target="/ok.txt?SIGN=x:0&Sign=y:0")
add("query-semicolon", "query", **P401("sign missing"), target="/ok.txt?a=1;sign=x:0")
add("query-encoded-key", "query", **P401("sign mismatch"), target="/ok.txt?%73ign=x:0")
add("query-bracket", "query", **P401("sign missing"), target="/ok.txt?sign[]=x:0")
add("query-bad-escape", "query", **P401("sign expire invalid"), target="/ok.txt?sign=a%zz")
add("query-plus", "query", **P401("sign mismatch"), target="/ok.txt?sign=a+b:0")
add("query-no-equals", "query", **P401("sign missing"), target="/ok.txt?sign")
add("query-10k-params", "query", **P401("sign missing"), target="/ok.txt?{{REP:5000|a=b&}}")
add("query-fragment", "query", **P401("sign mismatch"), target="/ok.txt#?sign=x:0")
add("query-path-other-file", "query", **P401("sign mismatch"), target="/other.txt?{{Q}}")
add("query-path-case", "query", **P401("sign mismatch"), target="/OK.txt?{{Q}}")
add("query-path-slash", "query", **P401("sign mismatch"), target="//ok.txt?{{Q}}")
add("query-nul-value", "query", **P401("sign expire invalid"), target="/ok.txt?sign=%00")

# ---- absurd expire values ------------------------------------------------------------------
for i, (v, m) in enumerate([
    ("x:", "sign expire missing"), ("x", "sign expire invalid"), ("x:abc", "sign expire invalid"),
    ("x:1", "sign expired"), ("x:%2B5", "sign expired"), ("x:1e99", "sign expired"), ("x:-1", "sign mismatch"),
    ("x:0x10", "sign mismatch"), ("x:99999999999999999999999999", "sign mismatch"),
    ("x:-99999999999999999999999999", "sign mismatch"), ("x:%20%2012", "sign expired"),
    ("x:9223372036854775807", "sign mismatch"), ("x:9223372036854775808", "sign mismatch"),
    ("x:-9223372036854775808", "sign mismatch"), ("x:1761800059", "sign expired"), ("x:007", "sign expired"),
    ("x:{{REP:5000|9}}", "sign mismatch"), ("::::", "sign expire missing"), (":0", "sign mismatch"),
    ("{{SIG:/ok.txt|1}}", "sign expired"), ("{{SIG:/ok.txt|1761800059}}", "sign expired"),
    ("x:1.5", "sign expired"), ("x:NaN", "sign expire invalid"), ("x:Infinity", "sign expire invalid"),
]):
    add(f"expire-{i}", "expire", **P401(m), target=f"/ok.txt?sign={v}")
add("expire-max-valid-mac", "expire", **P401("hashSign missing"), target="/ok.txt?sign={{SIG:/ok.txt|9223372036854775807}}")
add("expire-min-valid-mac", "expire", **P401("sign mismatch"), target="/ok.txt?sign={{SIG:/ok.txt|-9223372036854775808}}")

# ---- additionalInfo: JSON and base64 edge cases (valid MACs, so the decoder is reached) -----
add("info-missing", "additionalInfo", **P401("additionalInfo missing"), target="/ok.txt?{{Q4}}")
add("info-sign-missing", "additionalInfo", **P401("additionalInfoSign missing"), target="/ok.txt?{{Q4}}&additionalInfo=e30")
add("info-mac-bad", "additionalInfo", **P401("additionalInfoSign mismatch"), target="/ok.txt?{{Q4}}&additionalInfo=e30&additionalInfoSign=x:0")
for i, (raw, m) in enumerate([
    ("!!!!", "additionalInfo decode failed"), ("e30-", "additionalInfo decode failed"), ("e3_", "additionalInfo decode failed"),
    ("e", "additionalInfo decode failed"), ("{{REP:4000|A}}", "additionalInfo invalid"), ("ew", "additionalInfo invalid"),
    ("eyJhIjpbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1tbW1s", "additionalInfo invalid"),
    ("eyJwYXRoSGFzaCI6Ingi", "additionalInfo invalid"), ("e30=====", "additionalInfo path mismatch"),
    ("e 30", "additionalInfo decode failed"), ("%00", "additionalInfo decode failed"), ("=", "additionalInfo invalid"),
]):
    add(f"info-b64-{i}", "additionalInfo", **P401(m), target="/ok.txt?{{INFORAW:" + raw + "}}")
for i, (js, m) in enumerate([
    ("not json", "additionalInfo invalid"), ("[]", "additionalInfo invalid"), ("null", "additionalInfo path mismatch"),
    ("{}", "additionalInfo path mismatch"), ('"str"', "additionalInfo invalid"),
    ('{"pathHash":"PH"}', "additionalInfo expire invalid"),
    ('{"pathHash":"PH","filesize":1,"expireTime":-1}', "additionalInfo expire invalid"),
    ('{"pathHash":"PH","filesize":1,"expireTime":0}', "additionalInfo expire invalid"),
    ('{"pathHash":"PH","filesize":1,"expireTime":1}', "link expired"),
    ('{"pathHash":"PH","filesize":1,"expireTime":1761800059.9}', "link expired"),
    ('{"pathHash":"PH","filesize":1,"expireTime":"EXP"}', "additionalInfo invalid"),
    ('{"pathHash":"PH","filesize":1,"expireTime":true}', "additionalInfo invalid"),
    ('{"pathHash":"PH","filesize":1,"expireTime":null}', "additionalInfo expire invalid"),
    ('{"pathHash":"PH","filesize":1,"expireTime":-1e400}', "additionalInfo invalid"),
    ('{"pathHash":"PH","filesize":1,"expireTime":NaN}', "additionalInfo invalid"),
    ('{"pathHash":"PHX","filesize":1,"expireTime":EXP}', "additionalInfo path mismatch"),
    ('{"pathHash":"","filesize":1,"expireTime":EXP}', "additionalInfo path mismatch"),
    ('{"pathHash":1,"filesize":1,"expireTime":EXP}', "additionalInfo invalid"),
    ('{"pathHash":"PH","filesize":"1","expireTime":EXP}', "additionalInfo invalid"),
    ('{"pathHash":["PH"],"filesize":1,"expireTime":EXP}', "additionalInfo invalid"),
    ('{"pathHash":"PH","filesize":1,"expireTime":EXP} trailing', "additionalInfo invalid"),
    ('{"pathHash":"{{REP:20000|a}}","filesize":1,"expireTime":EXP}', "additionalInfo path mismatch"),
    ("{{REP:3000|[}}{{REP:3000|]}}", "additionalInfo invalid"),
    ('{"pathHash":"P\\u0000H","filesize":1,"expireTime":EXP}', "additionalInfo path mismatch"),
    ('{"pathHash":"\\ud800","filesize":1,"expireTime":EXP}', "additionalInfo path mismatch"),
]):
    add(f"info-json-{i}", "additionalInfo", **P401(m), target="/ok.txt?{{INFO:" + js + "}}")
# Accepted spellings (signed by us, so harmless): they must still be served, not crash.
for i, js in enumerate([
    '{"pathHash":"PH","filesize":1,"expireTime":EXP}',
    '{"pathHash":"PH","filesize":1,"expireTime":1e300}',
    '{"pathHash":"PH","filesize":-5,"expireTime":EXP}',
    '{"pathHash":"PH","filesize":1e300,"expireTime":EXP}',
    '{"expireTime":EXP,"filesize":1,"pathHash":"PH"}',
    ' {"pathHash":"PH","filesize":1,"expireTime":EXP,"extra":[1,{"x":null}]} ',
    '{"pathHash":"x","pathHash":"PH","filesize":1,"expireTime":EXP}',
]):
    add(f"info-ok-{i}", "additionalInfo", 200, reach="upstream", target="/ok.txt?{{INFO:" + js + "}}")

# ---- huge URLs and headers (the public listener allows 64 KiB of request head) -------------
add("huge-path-60k", "huge", **P401("sign missing"), target="/{{REP:60000|a}}")
add("huge-path-70k", "huge", 431, plain=True, target="/{{REP:70000|a}}")
add("huge-path-1m", "huge", 431, plain=True, target="/{{REP:1048576|a}}")
add("huge-query-60k", "huge", **P401("sign mismatch"), target="/ok.txt?sign={{REP:60000|A}}:0")
add("huge-header-70k", "huge", 431, plain=True, target="/ok.txt", headers=[["X-Big", "{{REP:70000|b}}"]])
add("huge-many-headers", "huge", **P401("sign missing"), target="/ok.txt", headers=[[f"X-H{i}", "v"] for i in range(2000)])
add("huge-many-headers-over", "huge", 431, plain=True, target="/ok.txt", headers=[[f"X-Header-{i}", "value-value"] for i in range(4000)])
add("huge-encoded-path", "huge", **P401("sign missing"), target="/{{REP:19000|%41}}")
add("huge-dotdot", "huge", 403, "access denied", target="/{{REP:15000|../}}private/secret.txt")
add("huge-slashes", "huge", **P401("sign missing"), target="/{{REP:60000|/}}")

# ---- Range abuse on a valid link (relayed from the upstream, http.ServeContent in the fake) --
rng = [
    ("bytes=0-0", 206), ("bytes=-1", 206), ("bytes=1023-", 206), ("bytes=0-99999999", 206),
    ("bytes=1024-", 416), ("bytes=5000-6000", 416), ("bytes=1-0", 416), ("bytes=-0", 206),
    ("bytes=0--1", 416), ("bytes=-5-10", 416), ("items=0-1", 416), ("bytes=", 200), ("bytes=,", 200),
    ("bytes=99999999999999999999-", 416), ("bytes=0-99999999999999999999", 416), ("bytes=-99999999999999999999", 416),
    ("bytes=9223372036854775807-", 416), ("bytes=0-9223372036854775807", 206),
    ("bytes={{REP:600|0-0,}}0-0", 206), ("bytes={{REP:1100|0-0,}}0-0", 200), ("bytes={{REP:300|0-1023,}}0-1", 200), ("bytes={{REP:200|5-9,}}0-1", 206),
    ("bytes=0-1,1-2,2-3", 206), ("bytes=0-10,5-15", 206), ("bytes= 0 - 1", 206), ("bytes=0-1\t", 206),
    ("bytes=a-b", 416), ("bytes=0-0,a", 416), ("bytes=1024-2048,0-0", 206), ("BYTES=0-0", 416),
]
for i, (r, st) in enumerate(rng):
    add(f"range-{i}", "range", st, reach="upstream", target="/ok.txt?{{Q}}", headers=[["Range", r]])
add("range-if-range-garbage", "range", 200, reach="upstream", target="/ok.txt?{{Q}}", headers=[["Range", "bytes=0-0"], ["If-Range", "{{REP:100|\"}}"]])
add("range-ims-garbage", "range", 200, reach="upstream", target="/ok.txt?{{Q}}", headers=[["If-Modified-Since", "not a date {{HEX:ff}}"]])
add("range-two-headers", "range", 206, reach="upstream", target="/ok.txt?{{Q}}", headers=[["Range", "bytes=0-0"], ["Range", "bytes=5-5"]])
for i, (r, st) in enumerate([("bytes=0-0", 206), ("bytes={{REP:1100|0-0,}}0-0", 200), ("bytes=99999999999999999999-", 416),
                             ("bytes=-0", 206), ("bytes=1-0", 416), ("bytes={{REP:200|5-9,}}0-1", 206)]):
    add(f"range-local-{i}", "range", st, reach="db", service="local", target="/pub/ok.txt", headers=[["Range", r]])
add("range-unsigned", "range", **P401("sign missing"), target="/ok.txt", headers=[["Range", "bytes={{REP:1000|0-0,}}0-0"]])

# ---- client-IP headers (trusted peer, CLIENT_IP_HEADER=CF-Connecting-IP, IPV4_ONLY on) -----
cip = [
    ("2001:db8::1", 403, "ipv6 access is prohibited"), ("::1", 403, "ipv6 access is prohibited"),
    ("fe80::1%eth0", 403, "ipv6 access is prohibited"), ("fe80::1%25eth0", 403, "ipv6 access is prohibited"),
    ("[2001:db8::1]", 403, "ipv6 access is prohibited"),
    # IPv4-mapped addresses count as IPv4 (not refused by IPV4_ONLY) but the text differs from the signed one
    ("::ffff:203.0.113.7", 401, "ipSign mismatch"), ("::ffff:cb00:7107", 401, "ipSign mismatch"), ("203.0.113.7%eth0", 401, "ipSign mismatch"),
    ("198.51.100.1", 401, "ipSign mismatch"), ("203.000.113.007", 401, "ipSign mismatch"),
    ("0x cb.0.113.7", 401, "ipSign mismatch"), ("unknown", 401, "ipSign mismatch"), ("", 401, "client ip missing"),
    ("   ", 401, "client ip missing"), (",203.0.113.7", 401, "client ip missing"), ("{{REP:10000|1}}", 401, "ipSign mismatch"),
    ("2001:db8::1, 203.0.113.7", 403, "ipv6 access is prohibited"), ("203.0.113.7:8080", 403, "ipv6 access is prohibited"),  # not an IP; contains ':' -> IPv6 rule
    ("{{HEX:cbb0}}", 401, "ipSign mismatch"),
]
for i, (v, st, m) in enumerate(cip):
    add(f"clientip-{i}", "clientip", st, m, target="/ok.txt?{{Q}}", headers=[["CF-Connecting-IP", v]])
for i, v in enumerate([" 203.0.113.7 ", "203.0.113.7, 10.0.0.1", "203.0.113.7,::1"]):
    add(f"clientip-ok-{i}", "clientip", 200, reach="upstream", target="/ok.txt?{{Q}}", headers=[["CF-Connecting-IP", v]])
add("clientip-xff-ignored", "clientip", **P401("client ip missing"), noip=True, target="/ok.txt?{{Q}}", headers=[["X-Forwarded-For", "203.0.113.7"], ["X-Real-IP", "203.0.113.7"]])
add("clientip-two-cf", "clientip", 200, reach="upstream", target="/ok.txt?{{Q}}", headers=[["CF-Connecting-IP", "203.0.113.7"], ["CF-Connecting-IP", "198.51.100.1"]])

# ---- landing (BLACKLIST /private block; FAST_REDIRECT) --------------------------------------
L = dict(service="landing")
add("landing-sign-missing", "landing", 401, "sign missing", target="/ok.txt", **L)
add("landing-sign-mismatch", "landing", 401, "sign mismatch", target="/ok.txt?sign=x:0", **L)
add("landing-dup-sign", "landing", 401, "sign mismatch", target="/ok.txt?sign=x:0&sign={{LSIGN}}", **L)
add("landing-expired", "landing", 401, "expire expired", target="/ok.txt?sign=x:1", **L)
add("landing-expire-missing", "landing", 401, "expire missing", target="/ok.txt?sign=x:", **L)
add("landing-expire-invalid", "landing", 401, "expire invalid", target="/ok.txt?sign=x:zz", **L)
add("landing-expire-huge", "landing", 401, "sign mismatch", target="/ok.txt?sign=x:99999999999999999999999", **L)
add("landing-trav", "landing", 403, "access denied", target="/pub/%2e%2e/private/secret.txt?sign={{LSIGN:/private/secret.txt}}", **L)
add("landing-trav-unsigned", "landing", 400, "invalid path encoding", target="/pub/..%2fprivate/secret.txt", **L)
add("landing-trav-backslash", "landing", 400, "invalid path encoding", target="/pub/..%5cprivate/secret.txt", **L)
add("landing-trav-slashes", "landing", 403, "access denied", target="//private/secret.txt?sign={{LSIGN://private/secret.txt}}", **L)
add("landing-overlong", "landing", 400, "invalid path encoding", target="/%c0%ae%c0%ae/private", **L)
add("landing-bad-escape", "landing", 400, plain=True, target="/%zz", **L)
add("landing-ctl", "landing", 400, plain=True, target="/ok{{HEX:00}}.txt", **L)
add("landing-huge", "landing", 431, plain=True, target="/{{REP:70000|a}}", **L)
add("landing-info-nosign", "landing", 401, "sign missing", target="/info?path=%2Fok.txt", **L)
add("landing-info-trav", "landing", 403, "access denied", target="/info?path=%2Fa%2F..%2Fprivate%2Fsecret.txt&sign={{LSIGN:/private/secret.txt}}", **L)
add("landing-info-overlong", "landing", 400, "invalid path encoding", target="/info?path=%25c0%25ae&sign=x:0", **L)
add("landing-valid", "landing", 302, reach="upstream", target="/ok.txt?sign={{LSIGN}}", **L)
add("landing-valid-mapped-ip", "landing", 302, reach="upstream", target="/ok.txt?sign={{LSIGN}}", headers=[["CF-Connecting-IP", "::ffff:203.0.113.7"]], **L)
add("landing-valid-zone-ip", "landing", 302, reach="upstream", target="/ok.txt?sign={{LSIGN}}", headers=[["CF-Connecting-IP", "fe80::1%eth0"]], **L)
add("landing-post", "landing", 405, "method not allowed", method="PUT", target="/ok.txt?sign={{LSIGN}}", **L)

with open("corpus.jsonl", "w") as f:
    f.write("# generated by gen_corpus.py; one request per line (see internal/hostile/corpus_test.go)\n")
    for it in items:
        f.write(json.dumps(it, ensure_ascii=True) + "\n")
print(len(items), "items")
