"""GetHistory pages carry a cursor that always advances, also for a scoped
reader shown none of a page's versions; the CLI follows it."""
from harness import (test, Daemon, Raw, cli_ok, check, eq, new_household,
                     req, f_bytes, f_varint, pb_decode, pb_get)
from consentlib import grant


@test
def scoped_reader_pages_past_versions_it_cannot_see():
    d = Daemon("history").start()
    hh = new_household(d)
    for i in range(20):
        cli_ok(d, "wmo", "note", "add", hh, "--domain", "financien",
               "--text", "buiten het zicht van de huisarts %d" % i)
    for i in range(2):
        cli_ok(d, "wmo", "note", "add", hh, "--domain",
               "lichamelijke_gezondheid", "--text", "wondzorg %d" % i)
    grant(d, "henk", hh, "huisarts-noord", "read",
          domains=("lichamelijke_gezondheid",), purpose="huisarts")
    # Raw: a page of versions 5..7 shows nothing, yet its cursor moves on.
    with Raw(d, "huisarts") as c:
        r = c.call(req(1, 14, f_bytes(1, hh) + f_varint(2, 4) +
                       f_varint(3, 3)))
        eq(r.code_name, "OK", "GetHistory")
        body = pb_decode(r.body)
        eq(body.get(1, []), [], "entries shown of versions 5..16")
        check(pb_get(body, 2, 0) == 1, "more is set")
        check(pb_get(body, 3, 0) > 4, "next_after_version %r does not "
              "advance" % pb_get(body, 3, 0))
        # Following the cursor reaches the end without repeating anything.
        after, seen, pages = 0, [], 0
        while True:
            r = c.call(req(2 + pages, 14, f_bytes(1, hh) +
                           f_varint(2, after) + f_varint(3, 3)))
            body = pb_decode(r.body)
            for e in body.get(1, []):
                seen.append(pb_get(pb_decode(e), 1, 0))
            pages += 1
            if not pb_get(body, 2, 0):
                break
            nxt = pb_get(body, 3, 0)
            check(nxt > after, "cursor %d after %d" % (nxt, after))
            after = nxt
            check(pages < 100, "history does not end")
        eq(seen, sorted(set(seen)), "versions shown once, in order")
        eq(len(seen), 2 + 1, "in-scope entries (2 notes and the intake)")
    r = cli_ok(d, "huisarts", "history", hh, "--after", "4", "--limit", "3")
    check("version 22" in r.out and "version 23" in r.out,
          "the CLI did not follow the cursor: %r"
          % r.out)
    check("no history entries" not in r.out, "empty page shown: %r" % r.out)
    d.stop()
