"""``evidence-audit claim add|list|delete CASE ...``: public claims, checked against the case."""
from __future__ import annotations

import argparse

from .common import print_json, safe_text, table


def register(sub: argparse._SubParsersAction) -> None:
    from media_core.case.store import CLAIM_KINDS

    p = sub.add_parser("claim", help="record public claims and check them against the measurements",
                       description="A claim is a sentence from a public source with a typed assertion. "
                                   "`claim list` checks each against the case: consistent, inconsistent or "
                                   "not measurable, with the measured value and its uncertainty.")
    csub = p.add_subparsers(dest="claim_command", metavar="ACTION")
    csub.required = True
    a = csub.add_parser("add", help="record a claim (audit-logged)")
    a.add_argument("case", metavar="CASE")
    a.add_argument("--source", required=True, help="the source document's name")
    a.add_argument("--quote", required=True, help="the quoted sentence")
    a.add_argument("--kind", required=True, choices=CLAIM_KINDS)
    a.add_argument("--value", type=float, help="the stated number (shots, seconds)")
    a.add_argument("--low", type=float, help="lowest value the claim allows (with --high)")
    a.add_argument("--high", type=float, help="highest value the claim allows (with --low)")
    a.add_argument("--stated", help="the wording of the number, e.g. 'about 12 s'")
    a.add_argument("--feed", type=int, metavar="FEED_ID", help="the feed the claim is about (mute claims)")
    a.add_argument("--annotation", metavar="ANNOTATION_ID", help="the annotation a time is measured from")
    a.add_argument("--no", action="store_true", help="for mute_exists: the claim says there was NO mute")
    a.set_defaults(func=run_add)
    lst = csub.add_parser("list", help="every claim with its check")
    lst.add_argument("case", metavar="CASE")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=run_list)
    d = csub.add_parser("delete", help="delete a claim (audit-logged)")
    d.add_argument("case", metavar="CASE")
    d.add_argument("claim_id", metavar="CLAIM_ID")
    d.set_defaults(func=run_delete)


def run_add(args) -> int:
    import math

    from media_core.case.store import Case
    from media_core.errors import ParameterError

    value: dict = {}
    for k in ("value", "low", "high"):
        v = getattr(args, k)
        if v is not None:
            if not math.isfinite(v):
                raise ParameterError(f"--{k} must be a finite number (got {v})")
            value[k] = v
    if (args.low is None) != (args.high is None):
        raise ParameterError("--low and --high go together")
    if args.stated:
        value["stated"] = args.stated
    if args.kind == "mute_exists":
        value["value"] = not args.no
    with Case.open(args.case) as case:
        c = case.add_claim(source=args.source, quote=args.quote, kind=args.kind, value=value, feed_id=args.feed,
                           annotation_id=args.annotation)
    print(f"claim {c.id} recorded")
    return 0


def run_list(args) -> int:
    from media_core.case.claims import check_claims
    from media_core.case.store import Case
    from media_core.case.timeline import build_timeline

    with Case.open(args.case) as case:
        claims = case.claims
        checks = check_claims(claims, build_timeline(case))
    if args.json:
        print_json([{**c.to_dict(), "check": k.to_dict()} for c, k in zip(claims, checks)])
        return 0
    if not claims:
        print("no claims recorded (evidence-audit claim add)")
        return 0
    rows = []
    for c, k in zip(claims, checks):
        meas = "-" if k.measured is None else (f"{k.measured[0]}-{k.measured[1]}" if isinstance(k.measured, tuple)
                                                 else str(k.measured))
        if k.uncertainty is not None:
            meas += f" ± {k.uncertainty:g}"
        rows.append([c.id[:8], c.source, c.quote, c.kind, meas + (f" {k.unit}" if k.unit else ""), k.status, k.reason])
    print(table(rows, ["id", "source", "quote", "kind", "measured", "status", "why"]))
    return 0


def run_delete(args) -> int:
    from media_core.case.store import Case

    with Case.open(args.case) as case:
        match = [c for c in case.claims if c.id.startswith(args.claim_id)]
        if len(match) != 1:
            from media_core.errors import ParameterError

            raise ParameterError(f"{len(match)} claims match {safe_text(args.claim_id)!r}; give more of the id")
        case.delete_claim(match[0].id)
    print(f"claim {match[0].id} deleted")
    return 0
