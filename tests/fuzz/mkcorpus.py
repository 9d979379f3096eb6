#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_request (tests/fuzz/corpus/request/):
one well-formed Request body per operation and mutation kind, encoded with
the black-box harness's hand encoder. Run again after the proto changes."""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "blackbox"))
from harness import (req, req_whoami, req_create, req_get_plan, req_mutate,  # noqa: E402
                     req_history, mut_add_goal, mut_add_note,
                     mut_add_assessment, mut_target, f_bytes, f_varint)

HH = "0123456789abcdef0123456789abcdef"
OUT = os.path.join(HERE, "corpus", "request")


def action(goal, text, org, subject="", due=""):
    b = f_varint(1, goal) + f_bytes(2, text) + f_bytes(3, org)
    if subject:
        b += f_bytes(4, subject)
    if due:
        b += f_bytes(5, due)
    return f_bytes(3, b)


def action_status(aid, status):
    return f_bytes(4, f_varint(1, aid) + f_varint(2, status))


def goal_status(gid, status):
    return f_bytes(2, f_varint(1, gid) + f_varint(2, status))


def add_member(pid, name, rel):
    m = f_bytes(1, pid) + f_bytes(2, name) + f_bytes(3, rel)
    return f_bytes(8, f_bytes(1, m))


def grant(org, subject, access, scope, purpose, ref=""):
    g = f_bytes(2, org) + (f_bytes(3, subject) if subject else b"")
    g += f_varint(4, access) + b"".join(f_varint(5, d) for d in scope)
    g += f_bytes(8, purpose) + (f_bytes(12, ref) if ref else b"")
    return req(9, 16, f_bytes(1, HH) + f_bytes(2, g))


SEEDS = {
    "whoami": req_whoami(1),
    "create": req_create(2, (("henk.desmet", "Henk de Smet", "ouder"),
                             ("anja.desmet", "Anja", "partner"))),
    "get_plan": req_get_plan(3, HH, 2),
    "history": req_history(4, HH),
    "mutate_goal": req_mutate(5, HH, mut_add_goal(1, "Schulden op orde",
                                                  "2027-06-30")),
    "mutate_all": req_mutate(6, HH, mut_add_goal(2, "Werk"),
                             action(1, "Aanmelden", "lev", "s.bakker",
                                    "2026-12-15"),
                             action_status(2, 2), goal_status(1, 2),
                             mut_add_note(1, "Notitie \u00e9\u00e9n"),
                             mut_add_assessment(1, 3, "opmerking"),
                             mut_target(1, 4),
                             add_member("lisa.desmet", "Lisa", "dochter"),
                             expected_version=3),
    "grant": grant("lev", "", 2, (1, 11), "Schuldhulp"),
    "grant_person": grant("burgers", "lisa.desmet", 1, (4, 9, 10),
                          "Mantelzorg", "F-7"),
    "list": req(10, 15, f_varint(1, 50)),
    "revoke": req(11, 17, f_bytes(1, HH) + f_varint(2, 3) + f_bytes(3, "F-8")),
    "transfer": req(12, 19, f_bytes(1, HH) + f_bytes(2, "gemeente") +
                    f_bytes(3, "b.willems") + f_bytes(4, "F-9")),
    "query_audit": req(13, 23, f_bytes(1, HH) + f_varint(5, 10)),
}

os.makedirs(OUT, exist_ok=True)
for name, body in SEEDS.items():
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(body)
print("wrote %d seeds to %s" % (len(SEEDS), OUT))
