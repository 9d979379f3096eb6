"""A JSON Schema validator for the keywords HL7's FHIR R4 JSON schema uses
(draft-06: $ref to local definitions, oneOf, properties,
additionalProperties, required, type, pattern, enum, const, items), in the
Python standard library, since no JSON Schema package can be installed here.
A schema keyword it does not know is an error, never silently passed.

    errors = validate(instance, schema)   # [] when valid
    python3 tests/fhir/jsonschema_lite.py SCHEMA.json DOC.json
"""
import json
import re
import sys

ANNOTATIONS = {"description", "$schema", "id", "$id", "title",
               "discriminator", "definitions", "default", "examples"}
KNOWN = ANNOTATIONS | {"$ref", "oneOf", "anyOf", "allOf", "properties",
                       "additionalProperties", "required", "type",
                       "pattern", "enum", "const", "items"}


class SchemaError(Exception):
    """The schema uses something this validator does not implement."""


def _is_type(v, t):
    if t == "object":
        return isinstance(v, dict)
    if t == "array":
        return isinstance(v, list)
    if t == "string":
        return isinstance(v, str)
    if t == "boolean":
        return isinstance(v, bool)
    if t == "null":
        return v is None
    if t == "integer":
        return isinstance(v, int) and not isinstance(v, bool)
    if t == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool)
    raise SchemaError("unknown type %r" % t)


class Validator:
    def __init__(self, root):
        self.root = root
        self.patterns = {}

    def resolve(self, ref):
        if not ref.startswith("#/"):
            raise SchemaError("only local $ref: %r" % ref)
        node = self.root
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def regex(self, p):
        r = self.patterns.get(p)
        if r is None:
            r = self.patterns[p] = re.compile(p)
        return r

    def errors(self, v, s, path="$"):
        if s is True or s == {}:
            return []
        if s is False:
            return ["%s: not allowed" % path]
        unknown = set(s) - KNOWN
        if unknown:
            raise SchemaError("%s: keywords %s" % (path, sorted(unknown)))
        errs = []
        if "$ref" in s:
            errs += self.errors(v, self.resolve(s["$ref"]), path)
        if "type" in s:
            types = s["type"] if isinstance(s["type"], list) else [s["type"]]
            if not any(_is_type(v, t) for t in types):
                return errs + ["%s: %r is not of type %s" % (path, v, s["type"])]
        if "const" in s and v != s["const"]:
            errs.append("%s: %r is not %r" % (path, v, s["const"]))
        if "enum" in s and v not in s["enum"]:
            errs.append("%s: %r is not one of %s" % (path, v, s["enum"]))
        if "pattern" in s and isinstance(v, str) and \
                not self.regex(s["pattern"]).search(v):
            errs.append("%s: %r does not match %s" % (path, v, s["pattern"]))
        if "items" in s and isinstance(v, list):
            if not isinstance(s["items"], dict):
                raise SchemaError("%s: tuple items" % path)
            for i, x in enumerate(v):
                errs += self.errors(x, s["items"], "%s[%d]" % (path, i))
        if isinstance(v, dict):
            props = s.get("properties", {})
            for k in s.get("required", []):
                if k not in v:
                    errs.append("%s: %s is required" % (path, k))
            extra = s.get("additionalProperties", True)
            for k, x in v.items():
                if k in props:
                    errs += self.errors(x, props[k], "%s.%s" % (path, k))
                elif extra is False:
                    errs.append("%s: %s is not a property here" % (path, k))
                elif isinstance(extra, dict):
                    errs += self.errors(x, extra, "%s.%s" % (path, k))
        for key in ("allOf",):
            for sub in s.get(key, []):
                errs += self.errors(v, sub, path)
        if "anyOf" in s and not any(not self.errors(v, sub, path)
                                    for sub in s["anyOf"]):
            errs.append("%s: matches none of anyOf" % path)
        if "oneOf" in s:
            results = [self.errors(v, sub, path) for sub in s["oneOf"]]
            ok = sum(1 for r in results if not r)
            if ok != 1:
                if ok == 0:
                    # Report the alternative that got furthest: for FHIR's
                    # ResourceList, the one whose resourceType matched.
                    best = min(results, key=len)
                    errs.append("%s: matches none of oneOf; closest: %s"
                                % (path, "; ".join(best[:5])))
                else:
                    errs.append("%s: matches %d of oneOf" % (path, ok))
        return errs


def validate(instance, schema):
    return Validator(schema).errors(instance, schema)


def main(argv):
    with open(argv[1]) as f:
        schema = json.load(f)
    with open(argv[2]) as f:
        doc = json.load(f)
    errs = validate(doc, schema)
    for e in errs[:50]:
        print(e)
    print("valid" if not errs else "%d error(s)" % len(errs))
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
