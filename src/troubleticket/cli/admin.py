"""The operator's verbs (``deliveries list|replay``, ``tickets at-risk``, ``check-config``):
parsed arguments in, tables or JSON lines out; the work is ``troubleticket.admin``'s."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from troubleticket.bootstrap.stores import open_store
from troubleticket.cli.parser import SETTING_FLAGS
from troubleticket.config import Settings
from troubleticket.domain.errors import TroubleTicketError
from troubleticket.store.port import StoreUnavailable


def _plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def _print_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [
        max([len(column), *(len(row[i]) for row in rows)]) for i, column in enumerate(columns)
    ]
    for line in (columns, *rows):
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        )


def _print_json_lines(items: Iterable[Mapping[str, Any]]) -> None:
    for item in items:
        print(json.dumps(item, ensure_ascii=False, separators=(",", ":")))


def admin(settings: Settings, args: argparse.Namespace) -> int:
    from troubleticket.admin.deliveries import ReplayStopped

    verb = f"troubleticket {args.command} {args.action}"
    if args.command == "deliveries" and args.action == "replay" and bool(args.ids) == args.dead:
        print(f"{verb}: name the deliveries (ID ...) or give --dead, one of them", file=sys.stderr)
        return 2
    run = _at_risk if args.command == "tickets" else _deliveries
    try:
        return run(settings, args)
    except ReplayStopped as exc:
        for made in exc.made:
            print(made)
        made_before = f" ({_plural(len(exc.made), 'delivery', 'deliveries')} made before)"
        print(f"{verb}: {exc.message}{made_before if exc.made else ''}", file=sys.stderr)
        return 1
    except TroubleTicketError as exc:
        print(f"{verb}: {exc.message}", file=sys.stderr)
        return 1
    except StoreUnavailable as exc:
        print(f"{verb}: {exc.message}", file=sys.stderr)
        return 1


def _deliveries(settings: Settings, args: argparse.Namespace) -> int:
    from troubleticket.admin.deliveries import DELIVERY_COLUMNS, DeliveryAdmin, Scope, delivery_row
    from troubleticket.bootstrap.files import load_partners
    from troubleticket.bootstrap.services import egress_policy, hub_service, partner_directory

    scope = Scope(hub=args.hub, partner=args.partner)
    store = open_store(settings, must_exist=True)
    try:
        hubs = hub_service(settings, store, egress_policy(settings))
        partners = None
        if args.partner is not None:  # its secrets must be set, as for serve
            partners = partner_directory(settings, store, hubs, load_partners(settings)[0])
        deliveries = DeliveryAdmin(store, hubs, partners)
        if args.action == "list":
            listing = deliveries.latest(scope, states=args.state or (), limit=args.limit)
            if args.json:
                _print_json_lines(listing.items)
            else:
                _print_table(DELIVERY_COLUMNS, [delivery_row(d) for d in listing.items])
            shown = _plural(len(listing.items), "delivery", "deliveries")
            more = "; more with a higher --limit" if listing.more else ""
            print(f"{shown} to {scope}, newest first{more}", file=sys.stderr)
            return 0
        skipped = None
        if args.dead:
            replay = deliveries.replay_dead(scope)
            made, skipped = replay.made, replay.skipped
        else:
            made = deliveries.replay(args.ids, scope)
    finally:
        store.close()
    for delivery_id in made:
        print(delivery_id)
    summary = f"replayed {_plural(len(made), 'delivery', 'deliveries')} to {scope}"
    if skipped:
        summary += f" ({_plural(skipped, 'dead one', 'dead ones')} replayed before: skipped)"
    if made:
        summary += "; the server or worker on this store sends them within TT_DISPATCH_INTERVAL"
    print(summary, file=sys.stderr)
    return 0


def _at_risk(settings: Settings, args: argparse.Namespace) -> int:
    from troubleticket.admin.board import BOARD_COLUMNS, at_risk
    from troubleticket.bootstrap.files import load_policy
    from troubleticket.bootstrap.services import utc_now

    policy = load_policy(settings)
    store = open_store(settings, must_exist=True)
    try:
        board = at_risk(store, policy, now=utc_now(), within=args.within, limit=args.limit)
    finally:
        store.close()
    if args.json:
        _print_json_lines(ticket.as_json() for ticket in board.tickets)
    else:
        _print_table(BOARD_COLUMNS, [ticket.row() for ticket in board.tickets])
    summary = f"{_plural(board.total, 'ticket', 'tickets')} at risk"
    if board.total > len(board.tickets):
        summary += f", the {len(board.tickets)} most overdue shown"
    print(summary, file=sys.stderr)
    return 0


def check_config(args: argparse.Namespace) -> int:
    from troubleticket.admin import config_check

    findings = config_check.check_config(
        {name: getattr(args, name, None) for name in SETTING_FLAGS}
    )
    for finding in findings:
        print(f"{finding.outcome:<8} {finding.section}: {finding.text}")
    problems = sum(finding.outcome == config_check.PROBLEM for finding in findings)
    if problems:
        print(
            f"troubleticket check-config: {_plural(problems, 'problem', 'problems')}; serve "
            "would refuse to start",
            file=sys.stderr,
        )
        return 2
    print("troubleticket check-config: everything serve checks is usable", file=sys.stderr)
    return 0
