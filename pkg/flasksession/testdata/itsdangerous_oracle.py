"""Signs and unsigns with the real itsdangerous, for itsdangerous_test.go.

Reads {"cases": [{"secrets": [{"b64": ..., "str": bool}], "salt": ...,
"digest": "sha1"|"sha256", "sign": [value, ...], "unsign": [signed, ...]}]}
on stdin; a secret with "str" true is passed as a str (its UTF-8 decoding),
like a Flask secret_key written in source. Writes {"results": [{"signed":
[...], "unsigned": [value or null, ...]}]} on stdout.
"""

import base64
import hashlib
import json
import sys

from itsdangerous import BadSignature, Signer


def secret(s):
    raw = base64.b64decode(s["b64"])
    return raw.decode("utf-8") if s["str"] else raw


def run(case):
    signer = Signer(
        [secret(s) for s in case["secrets"]],
        salt=case["salt"],
        key_derivation="hmac",
        digest_method=getattr(hashlib, case["digest"]),
    )
    unsigned = []
    for v in case["unsign"]:
        try:
            unsigned.append(signer.unsign(v).decode("utf-8"))
        except BadSignature:
            unsigned.append(None)
    return {"signed": [signer.sign(v).decode("utf-8") for v in case["sign"]], "unsigned": unsigned}


json.dump({"results": [run(c) for c in json.load(sys.stdin)["cases"]]}, sys.stdout)
