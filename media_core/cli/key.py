"""``evidence-audit key``: this account's signing key (where it is, its fingerprint to publish)."""
from __future__ import annotations

import argparse

from .common import print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("key", help="show this account's signing key fingerprint (created on first use)",
                       description="Every change to a case is signed with this account's Ed25519 key, kept "
                                   "outside the case. Publish the fingerprint so others can check a case "
                                   "with `evidence-audit verify CASE --trust FINGERPRINT`.")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from media_core.case.signing import account, host, load_signer

    s = load_signer()
    info = {"fingerprint": s.fingerprint, "public_key": s.public_b64, "key_file": str(s.path),
            "account": account(), "host": host()}
    if args.json:
        print_json(info)
    else:
        print(f"{info['fingerprint']}  {info['account']}@{info['host']}")
        print(f"key file: {info['key_file']} (keep it private; anyone holding it can sign as you)")
    return 0
