"""Helpers for test_feed.py, test_sync.py and test_signals.py: hand-made
change-feed and signal requests for the raw TLS client, a decoder of
ChangeEvent, the whole feed as one caller sees it, and a model of who may
read which household's domains at which event (from the grants a test made).
Field numbers are those of proto/eenplan.proto."""
import time

from harness import (Raw, check, eq, fail, f_bytes, f_varint, req, pb_decode,
                     pb_get, Failure, req_create, created_household)
from consentlib import DOMAINS, READ, CONTRIBUTE, req_grant, req_revoke

# ChangeKind, ConsentChange
CREATED, PLAN, CONSENT, REGIE, ESCALATED, CLOSED, BREAK_GLASS, SIGNAL, \
    ACCESS_ENDED = range(1, 10)
KIND_NAMES = {1: "CREATED", 2: "PLAN", 3: "CONSENT", 4: "REGIE",
              5: "ESCALATED", 6: "CLOSED", 7: "BREAK_GLASS", 8: "SIGNAL",
              9: "ACCESS_ENDED"}
GRANTED, REVOKED, RENOUNCED, EXPIRED = 1, 2, 3, 4
ALL = frozenset(range(1, 14))          # every ZRM domain

# Who the demo certificates are: name -> (org, subject, role).
PEOPLE = {
    "wmo": ("gemeente", "a.devries", "professional"),
    "lev": ("lev", "s.bakker", "professional"),
    "lev-systeem": ("lev", "lev-crm", "system"),
    "senzer": ("senzer", "m.vandijk", "professional"),
    "zorgboog": ("zorgboog", "j.smits", "professional"),
    "huisarts": ("huisarts-noord", "dr.peters", "gp"),
    "henk": ("burgers", "henk.desmet", "client"),
    "lisa": ("burgers", "lisa.desmet", "carer"),
}


# ------------------------------------------------------------ requests

def req_read_changes(rid, since, limit=0):
    b = f_varint(1, since) if since else b""
    if limit:
        b += f_varint(2, limit)
    return req(rid, 24, b)


def req_subscribe(rid, since):
    return req(rid, 25, f_varint(1, since) if since else b"")


def req_unsubscribe(rid, sub_id):
    return req(rid, 26, f_varint(1, sub_id))


def req_send_signal(rid, hh, domain, text):
    return req(rid, 27, f_bytes(1, hh) + f_varint(2, DOMAINS.get(domain, domain))
               + f_bytes(3, text))


def mut_note(domain, text):
    return f_bytes(5, f_varint(1, DOMAINS.get(domain, domain)) + f_bytes(2, text))


def req_mutate(rid, hh, muts):
    return req(rid, 13, f_bytes(1, hh) + b"".join(f_bytes(3, m) for m in muts))


# ------------------------------------------------------------ decoding

def _varints(b):
    out, v, shift = [], 0, 0
    for byte in b:
        v |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            out.append(v)
            v, shift = 0, 0
    return out


def _repeated_enum(d, num):
    out = []
    for v in d.get(num, []):
        out += _varints(v) if isinstance(v, bytes) else [v]
    return out


def _s(d, num):
    return pb_get(d, num, b"").decode(errors="replace")


def principal(b):
    d = pb_decode(b or b"")
    return (_s(d, 1), _s(d, 2), pb_get(d, 3, 0))


def decode_event(raw):
    """A ChangeEvent as a dict (seq, hh, kind, version, at, actor, grant_id,
    consent, domains [one per mutation, 0: none], nmut, detail, signal)."""
    d = pb_decode(raw)
    ev = {"seq": pb_get(d, 1, 0), "hh": _s(d, 2), "kind": pb_get(d, 3, 0),
          "version": pb_get(d, 4, 0), "at": pb_get(d, 5, 0),
          "actor": principal(pb_get(d, 6)), "grant_id": pb_get(d, 9, 0),
          "consent": pb_get(d, 10, 0), "change": None, "signal": None}
    ch = pb_get(d, 7)
    if ch is not None:
        c = pb_decode(ch)
        ev["change"] = {"nmut": len(c.get(5, [])), "detail": _s(c, 6),
                        "domains": _repeated_enum(c, 7),
                        "kind": pb_get(c, 4, 0)}
    sg = pb_get(d, 8)
    if sg is not None:
        s = pb_decode(sg)
        ev["signal"] = {"domain": pb_get(s, 3, 0), "text": _s(s, 4),
                        "from": principal(pb_get(s, 5))}
    return ev


def read_changes_page(conn, rid, since, limit=0):
    """(events, last_seq, more) of one ReadChanges."""
    r = conn.call(req_read_changes(rid, since, limit), timeout=30)
    check(r.code == 0 and r.body_field == 24, "ReadChanges: %r" % r)
    b = pb_decode(r.body)
    return ([decode_event(e) for e in b.get(1, [])], pb_get(b, 2, 0),
            bool(pb_get(b, 3, 0)))


def whole_feed(d, who, since=0, limit=0):
    """Every event `who` gets from since on (ReadChanges pages); returns
    (events, last_seq). Checks the cursors move forward."""
    out, rid = [], 1
    with Raw(d, who, timeout=30) as c:
        while True:
            evs, last, more = read_changes_page(c, rid, since, limit)
            rid += 1
            for e in evs:
                check(e["seq"] > since, "%s: event %d at or before the "
                      "cursor %d" % (who, e["seq"], since))
            out += evs
            check(last >= since, "%s: cursor went back %d -> %d"
                  % (who, since, last))
            if not more:
                return out, last
            check(last > since, "%s: more, but the cursor stays at %d"
                  % (who, since))
            since = last


def sub_frame(resp):
    """(event dict or None, last_seq) of a pushed Subscribe frame."""
    check(resp.body_field == 25, "not a Subscribe frame: %r" % resp)
    b = pb_decode(resp.body)
    e = pb_get(b, 1)
    return (decode_event(e) if e is not None else None, pb_get(b, 2, 0))


class Subscriber:
    """A raw subscription: subscribe(since), then next() per pushed frame."""

    def __init__(self, d, who, since=0, timeout=10):
        self.c = Raw(d, who, timeout=timeout)
        self.rid = 1
        self.c.send_frame(req_subscribe(self.rid, since))
        r = self.c.recv_frame()
        check(r is not None and r.id == self.rid and r.code == 0,
              "Subscribe as %s: %r" % (who, r))
        ev, last = sub_frame(r)
        check(ev is None and last == since, "the confirmation: %r %r"
              % (ev, last))

    def next(self, timeout=5):
        """The next frame of the subscription: (Resp, event or None)."""
        r = self.c.recv_frame(timeout)
        check(r is not None, "the daemon closed the subscriber's connection")
        if r.id != self.rid or r.code != 0:
            return r, None
        return r, sub_frame(r)[0]

    def events_for(self, seconds):
        """Every event pushed within seconds (stops quietly at the end)."""
        import socket
        out = []
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return out
            try:
                r, ev = self.next(left)
            except socket.timeout:
                return out
            check(r.id == self.rid and r.code == 0,
                  "subscription ended: %r" % r)
            out.append(ev)

    def close(self):
        self.c.close()


# ------------------------------------------------------------ the model

class Grant:
    def __init__(self, hh, gid, org, subject, access, scope, until):
        self.hh, self.id, self.org, self.subject = hh, gid, org, subject
        self.access = access
        self.scope = frozenset(scope) if scope else ALL
        self.until = until                 # microseconds, 0: none
        self.granted_seq = None            # from the regisseur's feed
        self.ended_seq = None              # revoked or expired at

    def matches(self, who):
        org, subject, role = PEOPLE[who]
        if self.org != org:
            return False
        if self.subject == "" and org == "burgers":
            return False                   # never the whole citizens' org
        return self.subject in ("", subject)


def scope_at(grants, who, seq, at):
    """The domains `who` may read of a household after event seq (at time
    at), from that household's grants; empty: none. Members and the
    regisseur are not modelled (the tests ask about others)."""
    role = PEOPLE[who][2]
    if role in ("auditor",):
        return frozenset()
    out = set()
    for g in grants:
        if not g.matches(who) or g.granted_seq is None or g.granted_seq > seq:
            continue
        if g.ended_seq is not None and g.ended_seq <= seq:
            continue
        if g.until and at >= g.until:
            continue
        out |= g.scope
    return frozenset(out)


def apply_truth(grants_by_hh, truth):
    """Dates each grant from the regisseur's feed (which holds every event of
    its households): granted at its CONSENT/GRANTED, ended at REVOKED or
    EXPIRED. Returns the grants that never showed up (a gap in the feed)."""
    by_id = {}
    for hh, gs in grants_by_hh.items():
        for g in gs:
            by_id[(hh, g.id)] = g
    for e in truth:
        if e["kind"] != CONSENT:
            continue
        g = by_id.get((e["hh"], e["grant_id"]))
        if g is None:
            continue
        if e["consent"] == GRANTED:
            g.granted_seq = e["seq"]
        elif e["consent"] in (REVOKED, EXPIRED, RENOUNCED):
            g.ended_seq = e["seq"]
    return [g for g in by_id.values() if g.granted_seq is None]


def grant_raw(conn, rid, hh, org, subject="", access=READ, scope=(), until=0,
              as_member=True):
    """GrantConsent over a raw connection (as a member); returns grant id."""
    from consentlib import granted_id
    r = conn.call(req_grant(rid, hh, org, subject, access=access,
                            scope=scope, valid_until=until))
    return granted_id(r)


def revoke_raw(conn, rid, hh, gid):
    r = conn.call(req_revoke(rid, hh, gid))
    check(r.code == 0, "RevokeConsent %s/%d: %r" % (hh, gid, r))


def now_us():
    return int(time.time() * 1000000)


def make_households(d, n, who="wmo"):
    out = []
    with Raw(d, who, timeout=30) as c:
        for i in range(n):
            out.append(created_household(c.call(req_create(i + 1))))
    return out


def wait_expiries(last_until):
    """Until every grant's end has passed and the writer's sweep (every
    second) has recorded it."""
    left = (last_until - now_us()) / 1e6 + 2.5
    if left > 0:
        time.sleep(left)


def sanitized(pid):
    """True when the process runs under ASan or valgrind: their allocators
    (quarantine, shadow memory) make its memory figures meaningless."""
    import harness
    if harness.VALGRIND:
        return True
    try:
        with open("/proc/%d/maps" % pid) as f:
            return "libasan" in f.read()
    except OSError:
        return False


def rss_kib(pid, field="RssAnon"):
    """A memory figure of a process from /proc (kB)."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise Failure("no %s in /proc/%d/status" % (field, pid))
