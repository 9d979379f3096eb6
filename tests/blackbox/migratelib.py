"""What a store holds, read through the wire as a full reader sees it: the
plan at every version, the whole history and every grant, as raw protobuf
bytes (hex). Used to make the schema-1 fixture (tests/fixtures/schema1) and
to check that a migrated store reads back identically."""
from harness import (Raw, req, f_bytes, f_varint, pb_decode, pb_get, check)


def _get_plan(c, rid, hh, version):
    r = c.call(req(rid, 12, f_bytes(1, hh) + f_varint(2, version)))
    check(r.code == 0 and r.body_field == 12,
          "GetPlan %s v%d: %r" % (hh, version, r))
    return pb_get(pb_decode(r.body), 1, b"")


def _history(c, rid, hh):
    out, after = [], 0
    while True:
        r = c.call(req(rid, 14, f_bytes(1, hh) + f_varint(2, after) +
                       f_varint(3, 50)))
        rid += 1
        check(r.code == 0 and r.body_field == 14, "GetHistory %s: %r" % (hh, r))
        d = pb_decode(r.body)
        ents = d.get(1, [])
        out += ents
        if not ents or not pb_get(d, 2, 0):
            return out, rid
        after = pb_get(pb_decode(ents[-1]), 1, 0)


def _grants(c, rid, hh):
    r = c.call(req(rid, 18, f_bytes(1, hh) + f_varint(2, 1)))
    check(r.code == 0 and r.body_field == 18, "ListConsent %s: %r" % (hh, r))
    return pb_decode(r.body).get(1, [])


def dump(daemon, reader, households):
    """{hh: {"plans": {version: hex}, "history": [hex], "grants": [hex]}}"""
    out = {}
    rid = 1
    with Raw(daemon, reader) as c:
        for hh in households:
            cur = _get_plan(c, rid, hh, 0)
            rid += 1
            version = pb_get(pb_decode(cur), 2, 0)
            plans = {}
            for v in range(1, version + 1):
                plans[str(v)] = _get_plan(c, rid, hh, v).hex()
                rid += 1
            hist, rid = _history(c, rid, hh)
            grants = _grants(c, rid, hh)
            rid += 1
            out[hh] = {"plans": plans, "history": [h.hex() for h in hist],
                       "grants": [g.hex() for g in grants]}
    return out
