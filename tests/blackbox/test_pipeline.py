"""Many requests in flight on one connection: all answered, matched by id,
including past max_inflight (backpressure, never a deadlock)."""
from harness import (test, shared, Raw, check, eq, frame, req_whoami,
                     req_create, created_household, req_mutate, req_get_plan,
                     mut_add_note, plan_summary, pb_decode, pb_get)


def pipeline(c, bodies, what):
    """Sends every frame before reading; returns {id: Resp}."""
    c.send(b"".join(frame(b) for b in bodies))
    got = {}
    for _ in bodies:
        r = c.recv_frame(timeout=60)
        check(r is not None, "%s: closed after %d answers" % (what, len(got)))
        check(r.id not in got, "%s: id %d answered twice" % (what, r.id))
        got[r.id] = r
    return got


@test
def whoami_200_in_flight():
    d = shared()
    with Raw(d, "lev") as c:
        got = pipeline(c, [req_whoami(i) for i in range(1, 201)], "200 WhoAmI")
        eq(sorted(got), list(range(1, 201)), "ids answered")
        bad = [r for r in got.values() if r.code != 0 or r.body_field != 10]
        check(not bad, "non-OK answers: %r" % bad[:3])
        eq(c.call(req_whoami(201)).code, 0, "the connection after the burst")


@test
def whoami_200_in_flight_max_inflight_4():
    d = shared("inflight4", limits={"max_inflight": 4})
    with Raw(d, "lev") as c:
        got = pipeline(c, [req_whoami(i) for i in range(1, 201)],
                       "200 WhoAmI with max_inflight 4")
        eq(sorted(got), list(range(1, 201)), "ids answered")
        check(all(r.code == 0 for r in got.values()), "non-OK answers")


@test
def writes_200_in_flight():
    """200 mutations pipelined on one connection (group commit): each
    acknowledged with its own version, none lost."""
    d = shared()
    with Raw(d, "wmo") as c:
        hh = created_household(c.call(req_create(1)))
        got = pipeline(c, [req_mutate(i, hh, mut_add_note(1, "note %d" % i))
                           for i in range(2, 202)], "200 MutatePlan")
        eq(sorted(got), list(range(2, 202)), "ids answered")
        vers = []
        for i, r in sorted(got.items()):
            check(r.code == 0 and r.body_field == 13, "write %d: %r" % (i, r))
            vers.append(pb_get(pb_decode(r.body), 1))
        eq(sorted(vers), list(range(2, 202)), "versions acknowledged")
        v, _, _ = plan_summary(c.call(req_get_plan(300, hh)))
        eq(v, 201, "plan version after 200 writes")
        plan = pb_decode(pb_get(pb_decode(c.call(req_get_plan(301, hh)).body), 1))
        eq(len(plan.get(11, [])), 200, "notes in the plan")
