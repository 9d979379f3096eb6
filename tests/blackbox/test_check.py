"""eenpland -n runs the checks start-up runs, without binding or writing,
and names every problem with the config file and the line of the setting it
came from — not just the first. Each config here is also refused by a real
start, so -n never says "OK" to a config that cannot start."""
import os
import re
import shutil
import subprocess

import harness
from harness import test, check, eq, sh, pki, free_port

ROOT = harness.ROOT


def conf_text(data_dir, key_path=None):
    env = dict(os.environ)
    if key_path:
        env["EENPLAN_STORE_KEY"] = key_path
    p = subprocess.run([os.path.join(ROOT, "deploy/mkconf.sh"), pki().dir,
                        data_dir, str(free_port())], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=env, check=True)
    return p.stdout.decode()


class Conf:
    """A config in its own dir, edited setting by setting; line(sec, key)
    is where that setting is in the file."""

    def __init__(self, name):
        self.dir = os.path.join(harness.RUN_DIR, "check-" + name)
        os.makedirs(self.dir)
        self.data = os.path.join(self.dir, "data")
        self.key = os.path.join(self.dir, "store.key")
        self.lines = conf_text(self.data, self.key).splitlines()
        self.path = os.path.join(self.dir, "eenpland.conf")

    def _find(self, section, key):
        sec = None
        for i, l in enumerate(self.lines):
            m = re.match(r"\[(.*)\]\s*$", l)
            if m:
                sec = m.group(1)
            elif sec == section and re.match(r"%s\s*=" % re.escape(key), l):
                return i
        return None

    def set(self, section, key, value):
        i = self._find(section, key)
        check(i is not None, "no %s in [%s]" % (key, section))
        self.lines[i] = "%s = %s" % (key, value)

    def line(self, section, key):
        return self._find(section, key) + 1

    def write(self):
        with open(self.path, "w") as f:
            f.write("\n".join(self.lines) + "\n")
        return self.path


def run_check(c):
    p = subprocess.run([os.path.join(harness.BUILD, "eenpland"), "-n", "-f",
                        c.write()], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=harness._sanitizer_env(),
                       timeout=60 * harness.SLOW)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def run_start(c):
    """A real start with the config: must exit non-zero by itself."""
    p = subprocess.run([os.path.join(harness.BUILD, "eenpland"), "-f",
                        c.write()], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=harness._sanitizer_env(),
                       timeout=60 * harness.SLOW)
    return p.returncode, p.stderr.decode()


def expect_problems(c, wants, start_refused=True):
    """-n exits 1 naming each (section, key, text) at its line; a start
    is refused too."""
    rc, out, err = run_check(c)
    eq(rc, 1, "eenpland -n: exit status (stdout %r, stderr %r)" % (out, err))
    check("configuration OK" not in out, "-n said OK: %r" % out)
    for section, key, text in wants:
        want = "%s:%d: [%s] %s: " % (c.path, c.line(section, key), section,
                                     key)
        hit = [l for l in err.splitlines() if l.startswith(want)]
        check(hit, "no problem at %r in:\n%s" % (want, err))
        check(any(text in l for l in hit), "%r lacks %r:\n%s"
              % (want, text, err))
    check(re.search(r"%d problems?: the daemon would not start" % len(wants),
                    err), "problem count is not %d:\n%s" % (len(wants), err))
    if start_refused:
        rc, serr = run_start(c)
        check(rc != 0, "the daemon started with a config -n refuses")
    return err


def copy_key(c, src, name, mode):
    dst = os.path.join(c.dir, name)
    shutil.copy(src, dst)
    os.chmod(dst, mode)
    return dst


@test
def check_good_config_ok():
    c = Conf("good")
    rc, out, err = run_check(c)
    eq(rc, 0, "eenpland -n of a good config: %r %r" % (out, err))
    check("configuration OK" in out, "stdout: %r" % out)
    # Nothing made: not the data directory, not the store key's store.
    check(not os.path.exists(c.data), "-n made the data directory")


@test
def check_missing_certificate_file():
    c = Conf("nocert")
    c.set("server", "cert", os.path.join(c.dir, "missing.crt"))
    expect_problems(c, [("server", "cert", "No such file")])


@test
def check_world_readable_tls_key():
    c = Conf("tlskey")
    c.set("server", "key", copy_key(c, os.path.join(pki().dir, "server",
                                                    "server.key"),
                                    "server.key", 0o644))
    expect_problems(c, [("server", "key", "mode 0644")])


@test
def check_world_readable_store_key():
    c = Conf("storekey")
    sh("sh", "-c", "umask 077 && openssl rand -hex 32 > %s" % c.key)
    os.chmod(c.key, 0o604)
    expect_problems(c, [("store", "key", "mode 0604")])


@test
def check_store_key_inside_data_dir():
    c = Conf("keyinside")
    os.makedirs(c.data)
    inside = os.path.join(c.data, "store.key")
    sh("sh", "-c", "umask 077 && openssl rand -hex 32 > %s" % inside)
    c.set("store", "key", inside)
    expect_problems(c, [("store", "key", "inside the data directory")])


@test
def check_two_organisations_share_a_ca():
    c = Conf("sharedca")
    c.set("org lev", "ca", os.path.join(pki().dir, "ca", "gemeente.crt"))
    err = expect_problems(c, [("org lev", "ca", "the same CA certificate as "
                                                "[org gemeente]")])
    check("line %d" % c.line("org gemeente", "ca") in err,
          "the other organisation's line is not named:\n%s" % err)


@test
def check_leaf_as_organisation_ca():
    c = Conf("leafca")
    c.set("org savant", "ca", pki().cert("wmo"))
    expect_problems(c, [("org savant", "ca", "is a leaf certificate")])


@test
def check_crl_bundle_without_one_ca():
    c = Conf("crl")
    crldir = os.path.join(pki().dir, "crl")
    bundle = os.path.join(c.dir, "crls.pem")
    with open(bundle, "w") as out:
        for name in sorted(os.listdir(crldir)):
            if name.endswith(".crl.pem") and name != "zorgboog.crl.pem":
                with open(os.path.join(crldir, name)) as f:
                    out.write(f.read())
    c.set("server", "crl", bundle)
    expect_problems(c, [("server", "crl", "no CRL of the [org zorgboog] CA")])


@test
def check_citizens_org_unknown():
    c = Conf("citizens")
    c.set("server", "citizens_org", "inwoners")
    rc, out, err = run_check(c)
    eq(rc, 1, "exit status")
    want = "%s:%d: citizens_org: \"inwoners\"" % (c.path,
                                                   c.line("server",
                                                          "citizens_org"))
    check(want in err, "%r not in:\n%s" % (want, err))
    eq(run_start(c)[0] != 0, True, "start refused")


@test
def check_reports_every_problem_at_once():
    c = Conf("all")
    c.set("server", "cert", os.path.join(c.dir, "missing.crt"))
    c.set("server", "key", copy_key(c, os.path.join(pki().dir, "server",
                                                    "server.key"),
                                    "server.key", 0o640))
    c.set("org lev", "ca", os.path.join(pki().dir, "ca", "gemeente.crt"))
    c.set("org savant", "ca", pki().cert("wmo"))
    c.set("limits", "page_max", "0")
    c.set("server", "citizens_org", "inwoners")
    sh("sh", "-c", "umask 077 && openssl rand -hex 32 > %s" % c.key)
    os.chmod(c.key, 0o644)
    rc, out, err = run_check(c)
    eq(rc, 1, "exit status")
    for section, key in (("server", "cert"), ("server", "key"),
                         ("org lev", "ca"), ("org savant", "ca"),
                         ("store", "key")):
        want = "%s:%d: [%s] %s: " % (c.path, c.line(section, key), section,
                                     key)
        check(want in err, "%r missing from:\n%s" % (want, err))
    for key in ("page_max", "citizens_org"):
        sec = "limits" if key == "page_max" else "server"
        want = "%s:%d: %s" % (c.path, c.line(sec, key), key)
        check(want in err, "%r missing from:\n%s" % (want, err))
    check("7 problems" in err, "count: %s" % err)
