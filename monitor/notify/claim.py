"""At most one email per date: the send is claimed atomically before it happens.

    <output>/<name>/date=YYYY-MM-DD/email_claim.json

A run creates the claim with an exclusive create (O_EXCL-style hard link locally, a conditional
PUT `If-None-Match: *` on S3) before it talks to SMTP. Of two runs of one date racing, exactly
one creates it; the other skips. After the send the claim records the outcome:

    claimed    the send is under way, or the run died before recording the outcome
    sent       delivered (to every recipient)
    partial    delivered to some recipients, refused by others (the refused ones are listed)
    unknown    the message went to the server but its final answer never came (timeout, cut)

A send that certainly did not happen (connection refused, 5xx before the message, auth failed)
releases the claim, so the next attempt (an Airflow retry) sends. `claimed` and `unknown` are
kept: the message may have been delivered, and delivery is at most once; `--resend` sends again.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
from collections.abc import Mapping
from typing import Any, Optional

from monitor.errors import MonitorError
from monitor.io.storage import Storage

__all__ = ["CLAIM_NAME", "claim_send", "read_claim", "settle_claim", "release_claim", "why_claimed"]

CLAIM_NAME = "email_claim.json"


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _encode(record: Mapping[str, Any]) -> bytes:
    return json.dumps(record, indent=2, sort_keys=True).encode("utf-8")


def read_claim(st: Storage, uri: str) -> Optional[dict]:
    """The claim at `uri`, None when there is none; an unreadable claim still counts as a claim."""
    try:
        raw = st.read_bytes(uri)
    except MonitorError:
        if not st.exists(uri):
            return None
        return {"state": "claimed", "unreadable": True}
    try:
        data = json.loads(raw)
    except ValueError:
        return {"state": "claimed", "unreadable": True}
    return data if isinstance(data, dict) else {"state": "claimed", "unreadable": True}


def claim_send(st: Storage, uri: str, run_id: str, *, force: bool = False) -> tuple[bool, Optional[dict]]:
    """Claim this date's email for `run_id`. Returns (ours, the other claim when not ours).

    `force` (--resend) replaces any earlier claim: the user asked for another send."""
    record = {"run_id": run_id, "state": "claimed", "claimed_at": _now(), "host": socket.gethostname(), "pid": os.getpid()}
    data = _encode(record)
    if force:
        st.write_bytes(uri, data, "application/json")
        return True, None
    if st.create_exclusive(uri, data, "application/json"):
        return True, None
    return False, read_claim(st, uri)


def settle_claim(st: Storage, uri: str, run_id: str, state: str, email: Mapping[str, Any]) -> None:
    """Record the outcome of our send in the claim (it stays a claim: no other run sends)."""
    current = read_claim(st, uri) or {}
    record = {**current, "run_id": run_id, "state": state, "settled_at": _now(), "email": dict(email)}
    st.write_bytes(uri, _encode(record), "application/json")


def release_claim(st: Storage, uri: str, run_id: str) -> None:
    """Give the claim back after a send that certainly did not happen (only our own claim)."""
    current = read_claim(st, uri)
    if current is not None and current.get("run_id") not in (None, run_id):
        return
    st.delete(uri)


def why_claimed(claim: Mapping[str, Any]) -> str:
    """Why this run does not send, given another run's claim: one line for the manifest and the console."""
    state = claim.get("state")
    raw = claim.get("email")
    email: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    who = f"run {claim.get('run_id')}" if claim.get("run_id") else "another run"
    if state in ("sent", "partial"):
        return f"skipped: already sent at {email.get('sent_at') or claim.get('settled_at')} by {who} (use --resend to send again)"
    if state == "unknown":
        return (f"skipped: {who} sent this date's email at {claim.get('claimed_at')} but the SMTP server's answer never came; "
                "it may have been delivered, and delivery is at most once (use --resend to send again)")
    return (f"skipped: {who} claimed this date's email at {claim.get('claimed_at')} and has not recorded the outcome "
            "(still sending, or it stopped after handing the message over); delivery is at most once (use --resend to send again)")
