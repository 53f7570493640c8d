#!/usr/bin/env python3
"""Writes the hostile-request corpus that tests/e2e/tests/hostile.rs replays.

Run it from anywhere (`python3 tests/e2e/corpus/generate.py`); it rewrites the `*.jsonl`
files beside it. The files are committed and the test reads them, not this script, so a
case can also be added by hand. README.md in this directory describes the format.

`generate.py --fuzz-seeds fuzz/corpus` instead writes the small cases as seed inputs for
the cargo-fuzz targets in fuzz/ (docs/fuzzing.md).
"""

import base64
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

NS = "hostile"
CM = f"/api/v1/namespaces/{NS}/configmaps"
SECRETS = f"/api/v1/namespaces/{NS}/secrets"
PODS = f"/api/v1/namespaces/{NS}/pods"
SVC = f"/api/v1/namespaces/{NS}/services"
DEP = f"/apis/apps/v1/namespaces/{NS}/deployments"
WIDGETS = f"/apis/hostile.example.com/v1/namespaces/{NS}/widgets"
JSON = "application/json"
YAML = "application/yaml"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
SMP = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"

# ---------------------------------------------------------------------------------------
# Text values: a plain string, or {"b64": ...} for bytes that are not UTF-8, or
# {"concat": [...]} / {"repeat": ..., "times": n} to keep big inputs small on disk.


class Text(dict):
    """A text value other than a plain string; never mistaken for a JSON body to encode."""


def rep(text, times):
    return Text(repeat=text, times=times)


def cat(*parts):
    return Text(concat=list(parts))


def b64(data: bytes):
    return Text(b64=base64.b64encode(data).decode())


_counter = [0]


def uniq(prefix="h"):
    """A fresh object name, so a request the server wrongly accepts cannot make a later
    case fail with 409 AlreadyExists instead of showing its own answer."""
    _counter[0] += 1
    return f"{prefix}{_counter[0]}"


def dumps(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def case(name, method, path, expect, body=None, content_type=None, headers=None, note=None,
         http_layer=False):
    c = {"name": name, "method": method, "path": path}
    hdrs = []
    if content_type is not None:
        hdrs.append(["Content-Type", content_type])
    for h in headers or []:
        hdrs.append(list(h))
    if hdrs:
        c["headers"] = hdrs
    if body is not None:
        c["body"] = body
    c["expect"] = expect
    if http_layer:
        c["http_layer"] = True
    if note:
        c["note"] = note
    return c


def raw(name, request, expect, note=None, http_layer=False):
    c = {"name": name, "raw": request, "expect": expect}
    if http_layer:
        c["http_layer"] = True
    if note:
        c["note"] = note
    return c


def post(name, path, body, expect, content_type=JSON, query="", **kw):
    if isinstance(body, (dict, list)) and not isinstance(body, Text):
        body = dumps(body)
    if query:
        path = path + query
    return case(name, "POST", path, expect, body=body, content_type=content_type, **kw)


def patch(name, path, body, content_type, expect, **kw):
    if isinstance(body, (dict, list)) and not isinstance(body, Text):
        body = dumps(body)
    return case(name, "PATCH", path, expect, body=body, content_type=content_type, **kw)


def get(name, path, expect, **kw):
    return case(name, "GET", path, expect, **kw)


def cm(name=None, **extra):
    name = uniq("cm") if name is None else name
    obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"k": "v"}}
    obj.update(extra)
    return obj


def deployment_text(replicas_literal, name=None):
    """A Deployment whose `replicas` is the literal JSON text given (numbers JSON cannot
    round-trip through Python stay exactly as written)."""
    name = uniq("dep") if name is None else name
    return (
        '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"' + name + '"},'
        '"spec":{"replicas":' + replicas_literal + ',"selector":{"matchLabels":{"app":"d"}},'
        '"template":{"metadata":{"labels":{"app":"d"}},'
        '"spec":{"containers":[{"name":"c","image":"busybox"}]}}}}'
    )


def split_deployment(replicas):
    """deployment_text with a text value (repeat/concat) for replicas."""
    before, after = deployment_text("@").split("@")
    return cat(before, replicas, after)


def pod_text(field, literal, name=None):
    name = uniq("pod") if name is None else name
    return (
        '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"' + name + '"},'
        '"spec":{"' + field + '":' + literal + ',"containers":[{"name":"c","image":"busybox"}]}}'
    )


def service_text(port_literal, name=None):
    name = uniq("svc") if name is None else name
    return (
        '{"apiVersion":"v1","kind":"Service","metadata":{"name":"' + name + '"},'
        '"spec":{"selector":{"app":"d"},"ports":[{"port":' + port_literal + '}]}}'
    )


def deployment_yaml(replicas_text):
    return (
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {uniq('ydep')}\nspec:\n"
        f"  replicas: {replicas_text}\n  selector:\n    matchLabels: {{app: d}}\n"
        "  template:\n    metadata:\n      labels: {app: d}\n    spec:\n"
        "      containers:\n      - {name: c, image: busybox}\n"
    )


# ---------------------------------------------------------------------------------------
# setup: the objects the hostile requests aim at. Every one must succeed.


def setup():
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.hostile.example.com"},
        "spec": {
            "group": "hostile.example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [{
                "name": "v1", "served": True, "storage": True,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                    },
                }},
            }],
        },
    }
    deployment = json.loads(deployment_text("1", name="web"))
    return [
        post("namespace", "/api/v1/namespaces",
             {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}, 201),
        post("configmap target", CM, cm("target"), 201),
        post("configmap victim", CM, cm("victim"), 201),
        post("secret", SECRETS, {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sec"},
                                 "data": {"password": "aHVudGVyMg=="}}, 201),
        post("deployment", DEP, deployment, 201),
        post("service", SVC, json.loads(service_text("80", name="svc")), 201),
        post("pod", PODS, json.loads(pod_text("restartPolicy", '"Always"', name="pod")), 201),
        post("crd", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd, 201),
        dict(get("crd served", WIDGETS, 200), retry=True),
        post("widget", WIDGETS, {"apiVersion": "hostile.example.com/v1", "kind": "Widget",
                                 "metadata": {"name": "w1"}, "spec": {"size": 1}}, 201),
    ]


# ---------------------------------------------------------------------------------------
# decode: JSON bodies that are not JSON, not an object, not UTF-8, or too big or deep.


def decode():
    good = dumps(cm("ok"))
    cases = [
        post("truncated JSON", CM, good[:-5], 400),
        post("trailing garbage after the object", CM, good + "x", 400),
        post("two objects back to back", CM, good + good, 400),
        post("a JSON array", CM, "[" + good + "]", 400),
        post("a JSON string", CM, '"configmap"', 400),
        post("a JSON number", CM, "42", 400),
        post("JSON null", CM, "null", 400),
        post("JSON true", CM, "true", 400),
        post("empty body", CM, "", 400),
        post("whitespace only", CM, "  \r\n\t ", 400),
        post("UTF-8 byte order mark before the object", CM, b64(b"\xef\xbb\xbf" + good.encode()), 400),
        post("UTF-16LE body with BOM", CM, b64(b"\xff\xfe" + good.encode("utf-16-le")), 400),
        post("UTF-16 body declared by charset", CM, b64(good.encode("utf-16")), 400,
             content_type="application/json; charset=utf-16"),
        post("invalid UTF-8 in a value (0xff)", CM,
             b64(b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"u"},"data":{"k":"\xff"}}'), 400),
        post("invalid UTF-8 in a key", CM,
             b64(b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"u"},"data":{"\xc3\x28":"v"}}'), 400),
        post("overlong UTF-8 slash in the name", CM,
             b64(b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a\xc0\xafb"}}'), 400),
        post("UTF-8-encoded surrogate bytes", CM,
             b64(b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"u"},"data":{"k":"\xed\xa0\x80"}}'), 400),
        post("truncated UTF-8 sequence at the end of a string", CM,
             b64(b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"u"},"data":{"k":"\xe2\x82"}}'), 400),
        post("lone high surrogate escape in a value", CM,
             '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"u"},"data":{"k":"\\ud800"}}', 400,
             note="upstream Go replaces it with U+FFFD and accepts; refusing is stricter and fine"),
        post("lone low surrogate escape in a value", CM,
             '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"u"},"data":{"k":"\\udc00"}}', 400),
        post("surrogates in the wrong order", CM,
             '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"u"},"data":{"k":"\\udc00\\ud800"}}', 400),
        post("lone surrogate escape in a key", CM,
             '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"u"},"data":{"\\ud83d":"v"}}', 400),
        post("lone surrogate escape in the name", CM,
             '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a\\ud800"}}', "4xx",
             note="upstream: 422 (U+FFFD is not a DNS character)"),
        post("raw NUL byte inside a string", CM,
             b64(b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"u"},"data":{"k":"a\x00b"}}'), 400),
        post("raw newline inside a string", CM,
             '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"u"},"data":{"k":"a\nb"}}', 400),
        post("invalid escape \\x41", CM,
             '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"u"},"data":{"k":"\\x41"}}', 400),
        post("short unicode escape", CM,
             '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"u"},"data":{"k":"\\u12"}}', 400),
        post("single-quoted strings", CM, "{'apiVersion':'v1','kind':'ConfigMap'}", 400),
        post("comments in JSON", CM, '{/* c */"apiVersion":"v1","kind":"ConfigMap"}', 400),
        post("trailing comma", CM, '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"t"},}', 400),
        post("unquoted key", CM, '{apiVersion:"v1"}', 400),
        post("NaN literal", DEP, deployment_text("NaN"), 400),
        post("Infinity literal", DEP, deployment_text("Infinity"), 400),
        post("hex number literal", DEP, deployment_text("0x10"), 400),
        post("leading zeros", DEP, deployment_text("007"), 400),
        post("plus sign", DEP, deployment_text("+1"), 400),
        post("100000 nested arrays", CM,
             cat('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"deep"},"x":',
                 rep("[", 100000), rep("]", 100000), "}"), 400),
        post("100000 nested objects", CM,
             cat('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"deep"},"x":',
                 rep('{"a":', 100000), "1", rep("}", 100000), "}"), 400),
        post("129 nested arrays (just past the limit)", CM,
             cat('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"deep"},"x":',
                 rep("[", 129), rep("]", 129), "}"), 400),
        post("unclosed nesting 1 MiB deep", CM, rep("[", 1 << 20), 400),
        post("4 MiB body", CM,
             cat('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"k":"',
                 rep("x", 4 << 20), '"}}'), 413),
        post("4 MiB of whitespace before the object", CM, cat(rep(" ", 4 << 20), good), 413),
        post("one-megabyte number in an int32 field", DEP, split_deployment(rep("9", 1 << 20)), 400),
        post("one-megabyte exponent", DEP, split_deployment(cat("1e", rep("9", 1 << 20))), 400),
        post("one-megabyte fraction", DEP, split_deployment(cat("0.", rep("0", 1 << 20), "1")), 400),
        post("data as a list", CM, cm(None, data=["k", "v"]), 400),
        post("metadata as a string", CM, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": "x"}, "4xx",
             note="upstream: 400 cannot unmarshal string into metadata"),
        post("labels as a list", CM,
             {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": uniq(), "labels": ["a"]}}, 400),
        post("name as a number", CM, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": 7}}, 400),
        post("apiVersion as an object", CM,
             {"apiVersion": {"v": 1}, "kind": "ConfigMap", "metadata": {"name": uniq()}}, 400,
             note="upstream: cannot unmarshal object into apiVersion of type string"),
        post("kind as a number", CM, {"apiVersion": "v1", "kind": 5, "metadata": {"name": uniq()}}, 400),
        post("kind as null", CM, {"apiVersion": "v1", "kind": None, "metadata": {"name": uniq()}, "data": 1}, 400),
        post("YAML body sent as JSON", CM, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: y}\n", 400),
        post("gzip body without Content-Encoding support", CM,
             b64(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xab\xae\x05\x00\x43\xbf\xa6\xa3\x02\x00\x00\x00"), 400,
             headers=[["Content-Encoding", "gzip"]]),
        post("body for a Deployment with a string where an object goes", DEP,
             '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":"big"}', 400),
        post("container list as an object", DEP,
             '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"selector":'
             '{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":'
             '{"name":"c"}}}}}', 400),
        post("data value as a nested object", CM, cm(None, data={"k": {"nested": True}}), 400),
        post("secret data that is not base64", SECRETS,
             {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": uniq()}, "data": {"k": "!!not base64!!"}}, 400),
    ]
    # Duplicate and unknown fields: refused under fieldValidation=Strict.
    strict = "?fieldValidation=Strict"
    dup_cases = [
        ("duplicate top-level key", '{"apiVersion":"v1","kind":"ConfigMap","kind":"ConfigMap","metadata":{"name":"d1"}}'),
        ("duplicate key in metadata", '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"d2","name":"d3"}}'),
        ("duplicate key in data", '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"d4"},"data":{"k":"1","k":"2"}}'),
        ("duplicate key spelled with an escape", '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"d5"},"data":{"k":"1","\\u006b":"2"}}'),
        ("duplicate kind with two values", '{"apiVersion":"v1","kind":"Secret","kind":"ConfigMap","metadata":{"name":"d6"}}'),
        ("unknown top-level field", '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"d7"},"spec":{"x":1}}'),
        ("unknown field in metadata", '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"d8","nmae":"x"}}'),
    ]
    for name, body in dup_cases:
        cases.append(post(f"{name} (Strict)", CM, body, 400, query=strict))
    cases.append(post("unknown field deep in a Deployment (Strict)", DEP,
                      deployment_text("1").replace('"image":"busybox"', '"image":"busybox","imagee":"x"'),
                      400, query=strict))
    cases.append(post("unknown top-level field on a custom resource (Strict)", WIDGETS,
                      {"apiVersion": "hostile.example.com/v1", "kind": "Widget",
                       "metadata": {"name": "wx"}, "bogus": 1}, 400, query=strict))
    cases.append(post("20000 duplicate keys (Strict)", CM,
                      cat('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"d9"},"data":{',
                          rep('"k":"v",', 20000), '"k":"v"}}'), 400, query=strict))
    cases.append(post("duplicate keys under a 64 KiB key (Strict; the answer must not amplify)", CM,
                      cat('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"d10"},"x":{"',
                          rep("k", 64 << 10), '":{', rep('"a":0,', 4000), '"a":0}}}'), 400, query=strict,
                      note="each duplicate's path repeats the 64 KiB key; 4000 of them is a 256 MiB message"))
    cases.append(post("duplicate keys in YAML (Strict)", CM,
                      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: dy\ndata:\n  k: a\n  k: b\n",
                      400, content_type=YAML, query=strict))
    return cases


# ---------------------------------------------------------------------------------------
# yaml: anchors, aliases, tags, documents.


def yaml_cases():
    head = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ybomb\n"

    def laughs(levels, width, flow=True):
        y = head + "x:\n"
        y += "  l0: &l0 [" + ",".join(['"lol"'] * width) + "]\n"
        for i in range(1, levels):
            y += f"  l{i}: &l{i} [" + ",".join([f"*l{i-1}"] * width) + "]\n"
        return y

    def map_laughs(levels, width):
        y = head + "x:\n  m0: &m0 {a: lol, b: lol}\n"
        for i in range(1, levels):
            y += f"  m{i}: &m{i} {{" + ", ".join(f"k{j}: *m{i-1}" for j in range(width)) + "}\n"
        return y

    def merge_laughs(levels):
        y = head + "x:\n  m0: &m0 {a0: lol}\n"
        for i in range(1, levels):
            y += f"  m{i}: &m{i}\n    <<: *m{i-1}\n    a{i}: *m{i-1}\n    b{i}: *m{i-1}\n"
        return y

    cases = [
        post("billion laughs, 9 x 9", CM, laughs(9, 9), 400, content_type=YAML),
        post("billion laughs, 10 x 10", CM, laughs(10, 10), 400, content_type=YAML),
        post("billion laughs, 30 levels x 2", CM, laughs(30, 2), 400, content_type=YAML),
        post("billion laughs in block style", CM,
             head + "x:\n  a: &a [lol, lol, lol, lol, lol, lol, lol, lol]\n"
             + "".join(f"  {c}: &{c}\n" + "".join(f"  - *{p}\n" for _ in range(8))
                       for p, c in zip("abcdefgh", "bcdefghi")), 400, content_type=YAML),
        post("alias bomb of maps", CM, map_laughs(8, 8), 400, content_type=YAML),
        post("alias bomb through merge keys", CM, merge_laughs(25), 400, content_type=YAML),
        post("100 KB string aliased 1000 times", CM,
             cat(head + "x:\n  s: &s ", rep("x", 100_000), "\n  l: [", rep("*s,", 999), "*s]\n"),
             400, content_type=YAML, note="300 KB of YAML that expands to 100 MB"),
        post("alias to an undefined anchor", CM, head + "data:\n  k: *nope\n", 400, content_type=YAML),
        post("alias used inside its own anchor", CM, head + "x: &a [*a]\n", 400, content_type=YAML),
        post("anchor redefined 20000 times", CM,
             cat(head + "x:\n  y: [", rep("&a [1], ", 20000), "*a]\n"), 400, content_type=YAML),
        post("two documents", CM, head + "---\n" + head, 400, content_type=YAML,
             note="upstream decodes the first document only; refusing is stricter"),
        post("10000 empty documents", CM, cat(head, rep("---\n", 10000)), 400, content_type=YAML),
        post("YAML that is a list", CM, "- a\n- b\n", 400, content_type=YAML),
        post("YAML that is a scalar", CM, "just a string\n", 400, content_type=YAML),
        post("YAML null document", CM, "~\n", 400, content_type=YAML),
        post("tab indentation", CM, "apiVersion: v1\nmetadata:\n\tname: t\n", 400, content_type=YAML),
        post("unterminated flow mapping", CM, head + "data: {k: v\n", 400, content_type=YAML),
        post("unterminated quoted string", CM, head + 'data:\n  k: "v\n', 400, content_type=YAML),
        post("YAML nested 10000 flow sequences", CM, cat(head + "x: ", rep("[", 10000), rep("]", 10000), "\n"),
             400, content_type=YAML),
        post("YAML nested 90 block mappings under data (inside the depth budget)", CM,
             head + "data:\n  k:\n" + "".join(" " * (i + 3) + "a:\n" for i in range(90)), 400, content_type=YAML,
             note="a data value must be a string; the depth is inside the decoder's budget of 100"),
        post("YAML nested 150 block mappings", CM,
             head + "x:\n" + "".join(" " * (i + 1) + "a:\n" for i in range(150)), 400, content_type=YAML),
        post("python object tag in data", CM,
             head + "data:\n  k: !!python/object/apply:os.system [\"echo pwned\"]\n", 400, content_type=YAML),
        post("set tag where a map goes", CM, head + "data: !!set {a, b}\n", "4xx", content_type=YAML),
        post("custom local tag on metadata", CM,
             "apiVersion: v1\nkind: ConfigMap\nmetadata: !evil\n  name: t\ndata: !!seq [a]\n", 400,
             content_type=YAML),
        post("complex mapping key", CM, head + "data:\n  ? [a, b]\n  : v\n", 400, content_type=YAML),
        post("null mapping key", CM, head + "data:\n  ~: v\n", 400, content_type=YAML),
        post("invalid UTF-8 in YAML", CM, b64((head + "data:\n  k: ").encode() + b"\xff\xfe\n"), 400,
             content_type=YAML),
        post("NUL byte in YAML", CM, b64((head + "data:\n  k: a").encode() + b"\x00b\n"), 400,
             content_type=YAML),
        post("lone surrogate escape in YAML", CM, head + 'data:\n  k: "\\ud800"\n', 400, content_type=YAML),
        post("directive for YAML 9.9", CM, "%YAML 9.9\n---\n" + head, 400, content_type=YAML),
        post("4 MiB YAML body", CM, cat(head + "data:\n  k: ", rep("x", 4 << 20), "\n"), 413,
             content_type=YAML),
        post("yaml bomb through text/yaml", CM, laughs(9, 9), 400, content_type="text/yaml"),
        post("yaml bomb through application/x-yaml", CM, laughs(9, 9), 400,
             content_type="application/x-yaml"),
        post("yaml bomb in a PUT", CM + "/target", laughs(9, 9).replace("ybomb", "target"), 400,
             content_type=YAML) | {"method": "PUT"},
    ]
    return cases


# ---------------------------------------------------------------------------------------
# numbers: values integers cannot hold, in JSON and YAML.


def numbers():
    cases = []
    for literal, why in [
        ("1e309", "overflows a double"),
        ("-1e309", "overflows a double, negative"),
        ("18446744073709551616", "2^64"),
        ("18446744073709551615", "2^64 - 1"),
        ("9223372036854775808", "2^63"),
        ("2147483648", "2^31, one past int32"),
        ("-2147483649", "one below int32"),
        ("99999999999999999999999", "23 nines"),
        ("1" + "0" * 300, "a 301-digit integer"),
        ("1e-400", "underflows a double"),
        ("-0.0", "negative zero as a float"),
        ("1.5", "a fraction"),
        ("1.0", "an integral float"),
        ("1e2", "an exponent"),
        ('"3"', "a string"),
        ("true", "a boolean"),
        ("[]", "a list"),
        ("{}", "an object"),
    ]:
        cases.append(post(f"replicas {literal[:24]} ({why})", DEP, deployment_text(literal), 400))
    cases.append(post("replicas -1", DEP, deployment_text("-1"), 422))
    cases.append(post("replicas -0 (JSON negative zero)", DEP, deployment_text("-0"), "4xx",
                      note="upstream reads -0 as 0 and accepts; closet reads it as a float"))
    for literal, why in [
        ("9223372036854775808", "2^63"),
        ("18446744073709551616", "2^64"),
        ("1e309", "overflows a double"),
        ("-9223372036854775809", "below int64"),
        ("1e-400", "underflows a double"),
    ]:
        cases.append(post(f"terminationGracePeriodSeconds {literal} ({why})", PODS,
                          pod_text("terminationGracePeriodSeconds", literal), 400))
    cases.append(post("activeDeadlineSeconds 0", PODS, pod_text("activeDeadlineSeconds", "0"), 422))
    cases.append(post("activeDeadlineSeconds -1", PODS, pod_text("activeDeadlineSeconds", "-1"), 422))
    for literal, expect in [("70000", 422), ("0", 422), ("-0", "4xx"), ("-1", 422),
                            ("18446744073709551616", 400), ("1e309", 400), ("80.5", 400), ('"80"', 400)]:
        cases.append(post(f"service port {literal}", SVC, service_text(literal), expect))
    cases.append(post("container port 65536", PODS,
                      '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"' + uniq("pod") + '"},"spec":{"containers":'
                      '[{"name":"c","image":"busybox","ports":[{"containerPort":65536}]}]}}', 422))
    cases.append(post("configmap data value 2^64", CM,
                      '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"n"},"data":{"k":18446744073709551616}}',
                      400))
    cases.append(post("metadata.generation 2^64", CM,
                      '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"n","generation":18446744073709551616}}',
                      400))
    cases.append(post("metadata.resourceVersion as a number", CM,
                      '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"n","resourceVersion":5}}', 400))
    cases.append(post("metadata.creationTimestamp that is not a time", CM,
                      {"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": uniq(), "creationTimestamp": "yesterday"}}, 400))
    cases.append(post("metadata.creationTimestamp in year 99999", CM,
                      {"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": uniq(), "creationTimestamp": "99999-01-01T00:00:00Z"}}, 400))
    cases.append(post("metadata.deletionGracePeriodSeconds 2^64", CM,
                      '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"n",'
                      '"deletionGracePeriodSeconds":18446744073709551616}}', 400))
    cases.append(case("PUT with resourceVersion 2^64", "PUT", CM + "/target", 400,
                      body=dumps(cm("target", metadata={"name": "target",
                                                        "resourceVersion": "18446744073709551616"})),
                      content_type=JSON))
    cases.append(case("PUT with resourceVersion -1", "PUT", CM + "/target", 400,
                      body=dumps(cm("target", metadata={"name": "target", "resourceVersion": "-1"})),
                      content_type=JSON))
    cases.append(case("PUT with resourceVersion 1e3", "PUT", CM + "/target", 400,
                      body=dumps(cm("target", metadata={"name": "target", "resourceVersion": "1e3"})),
                      content_type=JSON))
    for text in ["1e309", ".inf", "-.inf", ".nan", "18446744073709551616", "0x7fffffffffffffffffff",
                 "0o77777777777777777777777", "99999999999999999999999", "1.5", "'3'", "[1]", "{a: 1}"]:
        cases.append(post(f"YAML replicas {text}", DEP, deployment_yaml(text), 400, content_type=YAML))
    cases.append(post("YAML data value .nan", CM,
                      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: n}\ndata: {k: .nan}\n", 400,
                      content_type=YAML))
    return cases


# ---------------------------------------------------------------------------------------
# names: object, namespace, label and key names that must be refused.


def names():
    cases = []
    bad = [
        ("uppercase", "Web"),
        ("two dots inside", "a..b"),
        ("dot dot", ".."),
        ("dot", "."),
        ("slash", "a/b"),
        ("only a slash", "/"),
        ("dot dot slash traversal", "../../etc/passwd"),
        ("backslash", "a\\b"),
        ("percent-encoded slash", "a%2Fb"),
        ("space", "a b"),
        ("leading space", " a"),
        ("trailing newline", "a\n"),
        ("NUL", "a\u0000b"),
        ("leading dash", "-a"),
        ("trailing dash", "a-"),
        ("leading dot", ".a"),
        ("trailing dot", "a."),
        ("underscore", "a_b"),
        ("colon", "a:b"),
        ("fullwidth latin letters", "ｗｅｂ"),
        ("Cyrillic a look-alike", "\u0430dmin"),
        ("Greek omicron look-alike", "kube-system-\u03bf"),
        ("zero-width space", "a\u200bb"),
        ("right-to-left override", "\u202egnp.exe"),
        ("combining accent", "e\u0301"),
        ("dotted capital I", "\u0130stanbul"),
        ("emoji", "web-\U0001F600"),
        ("non-breaking space", "a\u00a0b"),
        ("254 characters", "a" * 254),
        ("10000 characters", "a" * 10000),
        ("253 characters ending in uppercase", "a" * 252 + "A"),
    ]
    for what, name in bad:
        cases.append(post(f"configmap name: {what}", CM, cm(name), 422))
    cases.append(post("no name and no generateName", CM,
                      {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}, 422))
    cases.append(post("empty name", CM, cm(""), 422))
    for what, gen in [("uppercase", "Web-"), ("slash", "a/"), ("dot dot slash", "../"),
                      ("10000 characters", "a" * 10000), ("Cyrillic", "\u0430-")]:
        cases.append(post(f"generateName: {what}", CM,
                          {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"generateName": gen}}, 422))
    for what, name in [("uppercase", "Hostile2"), ("dot (DNS label only)", "a.b"), ("underscore", "a_b"),
                       ("64 characters", "a" * 64), ("dot dot", ".."), ("slash", "kube-system/x"),
                       ("Cyrillic look-alike of default", "d\u0435fault")]:
        cases.append(post(f"namespace name: {what}", "/api/v1/namespaces",
                          {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}, 422))
    labels = [
        ("label key with two slashes", {"a/b/c": "v"}),
        ("label key with an empty name", {"example.com/": "v"}),
        ("label key with a 254-character prefix", {"a" * 254 + "/k": "v"}),
        ("label key name of 64 characters", {"k" * 64: "v"}),
        ("label key starting with a dash", {"-k": "v"}),
        ("empty label key", {"": "v"}),
        ("label value of 64 characters", {"k": "v" * 64}),
        ("label value with a slash", {"k": "a/b"}),
        ("label value with a non-ASCII letter", {"k": "\u00e4"}),
        ("label value with NUL", {"k": "a\u0000"}),
        ("label value ending in a dot", {"k": "v."}),
    ]
    for what, lbls in labels:
        cases.append(post(what, CM, cm(None, metadata={"name": uniq(), "labels": lbls}), 422))
    cases.append(post("annotation key with a space", CM,
                      cm(None, metadata={"name": uniq(), "annotations": {"a b": "v"}}), 422))
    cases.append(post("annotations over 256 KiB in total", CM,
                      cat('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","annotations":{"k":"',
                          rep("v", 300 << 10), '"}}}'), 422))
    cases.append(post("finalizer with a space", CM,
                      cm(None, metadata={"name": uniq(), "finalizers": ["a b"]}), 422))
    cases.append(post("owner reference without a uid", CM,
                      cm(None, metadata={"name": uniq(), "ownerReferences": [
                          {"apiVersion": "v1", "kind": "ConfigMap", "name": "target"}]}), "4xx"))
    for what, key in [("slash", "a/b"), ("dot dot", ".."), ("starting with dot dot", "..data"),
                      ("traversal", "../../etc/passwd"), ("empty", ""), ("254 characters", "k" * 254),
                      ("space", "a b")]:
        cases.append(post(f"configmap data key: {what}", CM, cm(None, data={key: "v"}), 422))
    cases.append(post("secret data key: traversal", SECRETS,
                      {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": uniq()},
                       "data": {"../../etc/shadow": "eA=="}}, 422))
    cases.append(post("configmap data over 1 MiB", CM,
                      cat('{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"k":"',
                          rep("v", 1200 << 10), '"}}'), 422,
                      note="upstream: data: Too long: must have at most 1048576 bytes"))
    return cases


# ---------------------------------------------------------------------------------------
# paths: traversal, escapes and names in the URL.


def paths():
    long = "a" * 10000
    along = rep("a", 10000)
    cases = [
        get("GET a configmap named ..", CM + "/..", "4xx", note="upstream: 400 name may not be '..'"),
        get("GET a configmap named .", CM + "/.", "4xx"),
        get("GET a configmap named %2E%2E", CM + "/%2E%2E", "4xx"),
        get("GET a name with %2F", CM + "/a%2Fb", "4xx"),
        get("GET a name that is %2F", CM + "/%2F", "4xx"),
        get("GET a name with encoded traversal to a secret", CM + "/..%2F..%2Fsecrets%2Fsec", "4xx"),
        get("GET through raw .. segments to a secret", CM + "/../secrets/sec", 404),
        get("GET through raw .. segments from a secret to a configmap", SECRETS + "/sec/../../configmaps/target", 404),
        get("GET with .. in place of the version", "/api/../api/v1/namespaces/hostile/secrets/sec", 404),
        get("GET with .. in place of the group", "/apis/../api/v1/namespaces", 404),
        get("GET a name with %00", CM + "/target%00", "4xx"),
        get("GET a name that is %00", CM + "/%00", "4xx"),
        get("GET a name with %0A", CM + "/target%0A", "4xx"),
        get("GET a 10000-character name", cat(CM + "/", along), 404),
        get("GET in a 10000-character namespace", cat("/api/v1/namespaces/", along, "/configmaps/x"), 404),
        get("GET a 254-character name", CM + "/" + "a" * 254, 404),
        get("GET with a bad percent escape", CM + "/%zz", 404),
        get("GET with a truncated percent escape", CM + "/a%2", 404),
        get("GET with an escape that decodes to invalid UTF-8", CM + "/%ff%fe", 404),
        get("GET with an overlong UTF-8 dot dot", CM + "/%C0%AE%C0%AE", 404),
        get("GET a subresource configmaps do not have", CM + "/target/status", 404),
        get("GET a subresource named ..", CM + "/target/..", 404),
        get("GET a subresource named %2E%2E", CM + "/target/%2E%2E", 404),
        get("GET too many segments", CM + "/target/a/b", 404),
        get("GET a resource name with an encoded slash", "/api/v1/namespaces/hostile/configmaps%2Ftarget", 404),
        get("GET a namespace path with encoded slashes", "/api/v1/namespaces%2Fhostile%2Fconfigmaps", 404),
        get("GET with an uppercase API prefix", "/API/V1/namespaces", 404),
        get("GET an uppercase resource", "/api/v1/Namespaces", 404),
        get("GET with a double slash", "/api//v1/namespaces", 404),
        get("GET a namespaced kind without a namespace but with a name", "/api/v1/configmaps/target", 404),
        get("GET a cluster-scoped kind inside a namespace", "/api/v1/namespaces/hostile/nodes/x", 404),
        get("GET a scale subresource with an extra segment", DEP + "/web/scale/extra", 404),
        get("GET a deployment named with a Cyrillic look-alike", DEP + "/w%D0%B5b", 404),
        get("GET a fullwidth name", DEP + "/%EF%BD%97%EF%BD%85%EF%BD%82", 404),
        get("GET a version that does not exist", "/apis/apps/v999/deployments", 404),
        get("GET a group made of dots", "/apis/../v1/x", 404),
        case("PUT a configmap named ..", "PUT", CM + "/..", "4xx", body=dumps(cm("..")), content_type=JSON),
        case("PUT a configmap named a%2Fb", "PUT", CM + "/a%2Fb", "4xx", body=dumps(cm("a/b")), content_type=JSON),
        case("PUT a 10000-character name", "PUT", CM + "/" + long, "4xx", body=dumps(cm(long)), content_type=JSON),
        case("DELETE a configmap named ..", "DELETE", CM + "/..", "4xx"),
        case("DELETE a configmap named %2E", "DELETE", CM + "/%2E", "4xx"),
        case("DELETE a name with %2F", "DELETE", CM + "/victim%2F..", "4xx"),
        case("DELETE through raw .. segments", "DELETE", CM + "/../secrets/sec", 404),
        case("DELETE a namespace named ..", "DELETE", "/api/v1/namespaces/..", "4xx"),
        patch("PATCH a configmap named ..", CM + "/..", {"data": {"x": "y"}}, MERGE_PATCH, "4xx"),
        patch("PATCH a name with %2F", CM + "/a%2Fb", {"data": {"x": "y"}}, MERGE_PATCH, "4xx"),
        post("POST into a namespace named ..", "/api/v1/namespaces/../configmaps", cm("x"), 404),
        post("POST into a namespace named %2E%2E", "/api/v1/namespaces/%2E%2E/configmaps", cm("x"), 404),
        post("POST into an uppercase namespace", "/api/v1/namespaces/Hostile/configmaps", cm("x"), 404),
        post("POST into a namespace with %00", "/api/v1/namespaces/hostile%00/configmaps", cm("x"), "4xx"),
        post("POST into a 10000-character namespace", cat("/api/v1/namespaces/", along, "/configmaps"), cm("x"),
             "4xx"),
        post("POST to a named path", CM + "/x", cm("x"), 405),
        post("POST to a subresource that does not exist", CM + "/target/foo", cm("x"), 404),
        post("POST a binding for a pod that does not exist", PODS + "/nope/binding",
             {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "nope"}, "target": {"name": "n"}}, 404),
        post("POST a binding without a target", PODS + "/pod/binding",
             {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": "pod"}}, 422),
    ]
    return cases


# ---------------------------------------------------------------------------------------
# query: list, watch, write and delete parameters.


def continue_token(obj):
    return base64.urlsafe_b64encode(dumps(obj).encode()).decode().rstrip("=")


def query():
    L = CM + "?"
    cases = [
        get("limit 2^64", L + "limit=18446744073709551616", 400),
        get("limit 2^63", L + "limit=9223372036854775808", 400),
        get("limit below int64", L + "limit=-9223372036854775809", 400),
        get("limit 99999999999999999999999", L + "limit=99999999999999999999999", 400),
        get("limit -1", L + "limit=-1", 422),
        get("limit 1e3", L + "limit=1e3", 400),
        get("limit 0x10", L + "limit=0x10", 400),
        get("limit empty", L + "limit=", 400),
        get("limit with NUL", L + "limit=1%00", 400),
        get("limit with a space", L + "limit=%201", 400),
        get("limit fullwidth digit", L + "limit=%EF%BC%91", 400),
        get("timeoutSeconds 2^64", L + "timeoutSeconds=18446744073709551616", 400),
        get("timeoutSeconds not a number", L + "watch=true&timeoutSeconds=1s", 400),
        get("watch with timeoutSeconds -1", L + "watch=true&timeoutSeconds=-1", "4xx",
            note="negative timeoutSeconds on a watch: refuse it as closet refuses a negative limit "
                 "(upstream ends the watch at once)"),
        get("watch with timeoutSeconds i64::MAX", L + "watch=true&timeoutSeconds=9223372036854775807", "4xx",
            note="now + i64::MAX seconds overflows the clock"),
        get("continue garbage", L + "limit=1&continue=garbage", 400),
        get("continue that is not base64", L + "limit=1&continue=%25%25%25", 400),
        get("continue that is base64 of non-JSON", L + "limit=1&continue=" +
            base64.urlsafe_b64encode(b"\xff\xfe\x00").decode(), 400),
        get("continue with another server's version", L + "limit=1&continue=" +
            continue_token({"v": "meta.k8s.io/v1", "rv": 5, "start": "x"}), 400),
        get("continue with revision 0", L + "limit=1&continue=" +
            continue_token({"v": "closet/v1", "rv": 0, "after": "x"}), 400),
        get("continue with an empty key", L + "limit=1&continue=" +
            continue_token({"v": "closet/v1", "rv": 5, "after": ""}), 400),
        get("continue with revision 2^64", L + "limit=1&continue=" + base64.urlsafe_b64encode(
            b'{"v":"closet/v1","rv":18446744073709551616,"after":"x"}').decode().rstrip("="), 400),
        get("continue with a future revision", L + "limit=1&continue=" +
            continue_token({"v": "closet/v1", "rv": (1 << 63) - 1, "after": "/core/configmaps/hostile/a"}), "4xx"),
        get("continue with a key outside the collection", L + "limit=1&continue=" +
            continue_token({"v": "closet/v1", "rv": 1, "after": "/core/secrets/kube-system/"}), "4xx",
            note="a token may only continue the collection that issued it"),
        get("continue with a traversal key", L + "limit=1&continue=" +
            continue_token({"v": "closet/v1", "rv": 1, "after": "/core/configmaps/hostile/../../secrets/"}),
            "4xx"),
        get("continue 50 KB long", cat(L + "limit=1&continue=", rep("A", 50_000)), 400),
        get("continue and a pinned resourceVersion", L + "limit=1&resourceVersion=5&continue=" +
            continue_token({"v": "closet/v1", "rv": 5, "after": "x"}), 400),
        get("resourceVersion 2^64", L + "resourceVersion=18446744073709551616", 400),
        get("resourceVersion 99999999999999999999999", L + "resourceVersion=99999999999999999999999", 400),
        get("resourceVersion -1", L + "resourceVersion=-1", 400),
        get("resourceVersion 1e3", L + "resourceVersion=1e3", 400),
        get("resourceVersion abc on a get", CM + "/target?resourceVersion=abc", "4xx"),
        get("resourceVersion 2^64 on a get", CM + "/target?resourceVersion=18446744073709551616", "4xx"),
        get("resourceVersionMatch without resourceVersion", L + "resourceVersionMatch=Exact", 422),
        get("resourceVersionMatch bogus", L + "resourceVersion=1&resourceVersionMatch=Bogus", 422),
        get("resourceVersionMatch Exact with resourceVersion 0", L + "resourceVersion=0&resourceVersionMatch=Exact", 422),
        get("sendInitialEvents on a list", L + "sendInitialEvents=true", 422),
        get("watch with resourceVersionMatch Exact", L + "watch=true&resourceVersionMatch=Exact", 422),
        get("watch with sendInitialEvents but no match", L + "watch=true&sendInitialEvents=true", 422),
        get("watch with sendInitialEvents and Exact", L +
            "watch=true&sendInitialEvents=true&resourceVersionMatch=Exact", 422),
        get("watch with continue and a match", L +
            "watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&continue=x", 422),
        get("watch=maybe", L + "watch=maybe", 400),
        get("watch with a negative limit", L + "watch=true&limit=-1", 422),
        get("watch with a bad label selector", L + "watch=true&labelSelector=a%20in%20(", 400),
        get("watch with a bad field selector", L + "watch=true&fieldSelector=spec.nope%3Dx", 400),
        get("watch with resourceVersion -5", L + "watch=true&resourceVersion=-5", 400),
        get("watch with resourceVersion 2^64", L + "watch=true&resourceVersion=18446744073709551616", 400),
        get("watch with allowWatchBookmarks=maybe", L + "watch=true&allowWatchBookmarks=maybe", 400),
        get("watch of a single object with a bad selector", L +
            "watch=1&fieldSelector=metadata.name%3Dtarget&labelSelector=!!", 400),
        get("includeObject bogus", L + "includeObject=Everything", 400),
        get("fieldSelector on an unknown field", L + "fieldSelector=spec.nodeName%3Dx", 400),
        get("fieldSelector on metadata.uid", L + "fieldSelector=metadata.uid%3Dx", 400),
        get("fieldSelector with a triple operator", L + "fieldSelector=metadata.name%3D%3D%3Dx", 400),
        get("fieldSelector with no key", L + "fieldSelector=%3Dx", 400),
        get("fieldSelector of 2500 terms, the last unknown",
            cat(L + "fieldSelector=", rep("metadata.name%3Dx%2C", 2500), "bogus%3Dy"), 400,
            note="2500 terms: 10000 would pass the 64 KiB URI limit and get hyper's bare 414"),
        get("fieldSelector in operator", L + "fieldSelector=metadata.name%20in%20(a)", 400),
        get("labelSelector of 10000 terms then a syntax error", cat(L + "labelSelector=", rep("a,", 10000), "!"),
            400),
        get("labelSelector of 10000 invalid keys", cat(L + "labelSelector=", rep("-a,", 9999), "-a"), 400),
        get("labelSelector with 10000 nested parentheses",
            cat(L + "labelSelector=a%20in%20", rep("(", 10000), "b", rep(")", 10000)), 400),
        get("labelSelector with 10000 open parentheses", cat(L + "labelSelector=a%20in%20", rep("(", 10000)), 400),
        # (`a in ()` is not here: upstream reads `()` as the set holding the empty value.)
        get("labelSelector double bang", L + "labelSelector=!!a", 400),
        get("labelSelector key of 64 characters", L + "labelSelector=" + "k" * 64 + "%3Dv", 400),
        get("labelSelector value of 64 characters", L + "labelSelector=k%3D" + "v" * 64, 400),
        get("labelSelector with a non-ASCII value", L + "labelSelector=k%3D%C3%A4", 400),
        get("labelSelector with NUL", L + "labelSelector=k%3Da%00", 400),
        get("labelSelector greater-than a word", L + "labelSelector=k%3Eten", 400),
        get("labelSelector greater-than 2^64", L + "labelSelector=k%3E18446744073709551616", 400),
        get("labelSelector a=b=c", L + "labelSelector=a%3Db%3Dc", 400),
        case("dryRun bogus on create", "POST", CM + "?dryRun=Bogus", "4xx", body=dumps(cm(None)),
             content_type=JSON),
        case("fieldValidation bogus", "POST", CM + "?fieldValidation=Paranoid", 422, body=dumps(cm(None)),
             content_type=JSON),
        case("fieldManager of 200 characters", "POST", CM + "?fieldManager=" + "m" * 200, "4xx",
             body=dumps(cm(None)), content_type=JSON),
        case("fieldManager with a control character", "POST", CM + "?fieldManager=a%07b", "4xx",
             body=dumps(cm("fm2")), content_type=JSON),
        case("force=maybe", "POST", CM + "?force=maybe", 400, body=dumps(cm(None)), content_type=JSON),
        case("DELETE with gracePeriodSeconds 2^64", "DELETE", CM + "/victim?gracePeriodSeconds=18446744073709551616",
             400),
        case("DELETE with gracePeriodSeconds not a number", "DELETE", CM + "/victim?gracePeriodSeconds=soon", 400),
        case("DELETE with propagationPolicy bogus", "DELETE", CM + "/victim?propagationPolicy=Bogus", "4xx"),
        case("DELETE with dryRun bogus", "DELETE", CM + "/victim?dryRun=Bogus", "4xx"),
        case("DELETE with a body that is not JSON", "DELETE", CM + "/victim", 400, body="{nope",
             content_type=JSON),
        case("DELETE with a body that is a list", "DELETE", CM + "/victim", 400, body="[]", content_type=JSON),
        case("DELETE with propagationPolicy as a number", "DELETE", CM + "/victim", 400,
             body='{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":1}', content_type=JSON),
        case("DELETE with gracePeriodSeconds 1e309 in the body", "DELETE", CM + "/victim", 400,
             body='{"kind":"DeleteOptions","apiVersion":"v1","gracePeriodSeconds":1e309}', content_type=JSON),
        case("DELETE with a stale uid precondition", "DELETE", CM + "/victim", 409,
             body='{"kind":"DeleteOptions","apiVersion":"v1","preconditions":{"uid":"nope"}}', content_type=JSON),
        case("DELETE with a resourceVersion precondition of 2^64", "DELETE", CM + "/victim", "4xx",
             body='{"kind":"DeleteOptions","apiVersion":"v1","preconditions":{"resourceVersion":"18446744073709551616"}}',
             content_type=JSON),
        case("DELETE with a YAML bomb body", "DELETE", CM + "/victim", 400,
             body="a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                  "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                  "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
                  "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n",
             content_type=YAML),
        case("DELETE of an object that does not exist", "DELETE", CM + "/never-existed", 404),
        case("DELETE collection with a bad label selector", "DELETE", CM + "?labelSelector=a%20in%20(", 400),
        case("DELETE collection with a negative limit", "DELETE", CM + "?limit=-1", "4xx"),
    ]
    # One of the lines above builds a deliberately corrupt token; keep it readable here.
    return cases


# ---------------------------------------------------------------------------------------
# patches: every patch type, on paths that do not exist, identity changes and growth.


def ops_rep(first, op, times):
    """A JSON patch: the operations `first`, then `op` repeated `times` times."""
    head = "[" + "".join(dumps(o) + "," for o in first)
    return cat(head, rep(dumps(op) + ",", times - 1), dumps(op) + "]")


def copy_doubling(times, leaf):
    """A JSON patch that doubles `/data/g` (well, a widget's spec.g) `times` times."""
    ops = [{"op": "add", "path": "/spec/g", "value": {"l": leaf}}]
    for i in range(times):
        ops.append({"op": "copy", "from": "/spec/g", "path": f"/spec/g/c{i}"})
    return ops


def depth_doubling(start_depth, doublings):
    """A JSON patch that builds a chain `start_depth` deep, then copies the chain into its own
    deepest object `doublings` times: each copy doubles the depth, so the body stays small."""
    chain = {}
    for _ in range(start_depth):
        chain = {"a": chain}
    ops = [{"op": "add", "path": "/spec/d", "value": chain}]
    inner = "/a" * start_depth
    for _ in range(doublings):
        ops.append({"op": "copy", "from": "/spec/d", "path": "/spec/d" + inner + "/b"})
        inner = inner + "/b" + inner
    return ops


def patches():
    T = CM + "/target"
    W = WIDGETS + "/w1"
    D = DEP + "/web"
    cases = [
        # JSON patch: malformed documents.
        patch("JSON patch: not JSON", T, "[{", JSON_PATCH, 400),
        patch("JSON patch: an object, not a list", T, {"op": "add", "path": "/data/a", "value": "b"}, JSON_PATCH, 400),
        patch("JSON patch: unknown op", T, [{"op": "frobnicate", "path": "/data/a"}], JSON_PATCH, 400),
        patch("JSON patch: op missing", T, [{"path": "/data/a", "value": "b"}], JSON_PATCH, 400),
        patch("JSON patch: path missing", T, [{"op": "add", "value": "b"}], JSON_PATCH, 400),
        patch("JSON patch: value missing on add", T, [{"op": "add", "path": "/data/a"}], JSON_PATCH, 400),
        patch("JSON patch: from missing on move", T, [{"op": "move", "path": "/data/a"}], JSON_PATCH, 400),
        patch("JSON patch: path without a leading slash", T, [{"op": "add", "path": "data/a", "value": "b"}],
              JSON_PATCH, "4xx"),
        patch("JSON patch: path as a number", T, [{"op": "add", "path": 7, "value": "b"}], JSON_PATCH, 400),
        patch("JSON patch: bad escape ~2", T, [{"op": "add", "path": "/data/a~2", "value": "b"}], JSON_PATCH, "4xx"),
        patch("JSON patch: lone surrogate in a value", T, '[{"op":"add","path":"/data/a","value":"\\ud800"}]',
              JSON_PATCH, 400),
        patch("JSON patch: invalid UTF-8", T, b64(b'[{"op":"add","path":"/data/a","value":"\xff"}]'), JSON_PATCH, 400),
        patch("JSON patch: replace a missing path", T, [{"op": "replace", "path": "/data/nope", "value": "x"}],
              JSON_PATCH, "4xx"),
        patch("JSON patch: remove a missing path", T, [{"op": "remove", "path": "/data/nope"}], JSON_PATCH, "4xx"),
        patch("JSON patch: add below a missing parent", T,
              [{"op": "add", "path": "/spec/nope/deeper", "value": 1}], JSON_PATCH, "4xx"),
        patch("JSON patch: add into a string", T, [{"op": "add", "path": "/data/k/deeper", "value": "x"}],
              JSON_PATCH, "4xx"),
        patch("JSON patch: test that fails", T, [{"op": "test", "path": "/data/k", "value": "not-v"}],
              JSON_PATCH, "4xx"),
        patch("JSON patch: test of a missing path", T, [{"op": "test", "path": "/nope", "value": 1}],
              JSON_PATCH, "4xx"),
        patch("JSON patch: copy from a missing path", T, [{"op": "copy", "from": "/nope", "path": "/data/x"}],
              JSON_PATCH, "4xx"),
        patch("JSON patch: move from a missing path", T, [{"op": "move", "from": "/nope", "path": "/data/x"}],
              JSON_PATCH, "4xx"),
        patch("JSON patch: move a parent into its own child", T,
              [{"op": "move", "from": "/data", "path": "/data/inner"}], JSON_PATCH, "4xx"),
        patch("JSON patch: move metadata into its labels", T,
              [{"op": "move", "from": "/metadata", "path": "/metadata/labels/m"}], JSON_PATCH, "4xx"),
        patch("JSON patch: move a child over its parent, then a failing test", T,
              [{"op": "move", "from": "/data/k", "path": "/data"}, {"op": "test", "path": "/nope", "value": 1}],
              JSON_PATCH, "4xx",
              note="undoing the first op (a move from /data to /data/k) is itself a move into a child"),
        patch("JSON patch: move a child over its parent", T,
              [{"op": "move", "from": "/data/k", "path": "/data"}], JSON_PATCH, "4xx",
              note="data becomes a string, which a ConfigMap cannot hold"),
        patch("JSON patch: array index out of range", D,
              [{"op": "replace", "path": "/spec/template/spec/containers/5/image", "value": "x"}], JSON_PATCH, "4xx"),
        patch("JSON patch: array index 2^64", D,
              [{"op": "replace", "path": "/spec/template/spec/containers/18446744073709551616/image", "value": "x"}],
              JSON_PATCH, "4xx"),
        patch("JSON patch: array index -1", D,
              [{"op": "add", "path": "/spec/template/spec/containers/-1", "value": {"name": "x", "image": "x"}}],
              JSON_PATCH, "4xx"),
        patch("JSON patch: array index with a leading zero", D,
              [{"op": "replace", "path": "/spec/template/spec/containers/00/image", "value": "x"}], JSON_PATCH, "4xx"),
        patch("JSON patch: remove the - element", D,
              [{"op": "remove", "path": "/spec/template/spec/containers/-"}], JSON_PATCH, "4xx"),
        patch("JSON patch: replace the name", T, [{"op": "replace", "path": "/metadata/name", "value": "other"}],
              JSON_PATCH, 400),
        patch("JSON patch: remove the name", T, [{"op": "remove", "path": "/metadata/name"}], JSON_PATCH, "4xx"),
        patch("JSON patch: replace the namespace", T,
              [{"op": "replace", "path": "/metadata/namespace", "value": "kube-system"}], JSON_PATCH, 400),
        patch("JSON patch: replace the uid", T,
              [{"op": "replace", "path": "/metadata/uid", "value": "00000000-0000-0000-0000-000000000000"}],
              JSON_PATCH, "4xx", note="upstream: 422 metadata.uid: field is immutable"),
        patch("JSON patch: replace the kind", T, [{"op": "replace", "path": "/kind", "value": "Secret"}],
              JSON_PATCH, 400),
        patch("JSON patch: replace the apiVersion", T, [{"op": "replace", "path": "/apiVersion", "value": "v2"}],
              JSON_PATCH, 400),
        patch("JSON patch: replace the whole document", T,
              [{"op": "replace", "path": "", "value": {"apiVersion": "v1", "kind": "Secret",
                                                       "metadata": {"name": "target"}}}], JSON_PATCH, 400),
        patch("JSON patch: replace the whole document with a list", T,
              [{"op": "replace", "path": "", "value": []}], JSON_PATCH, "4xx"),
        patch("JSON patch: bad creationTimestamp", T,
              [{"op": "replace", "path": "/metadata/creationTimestamp", "value": "yesterday"}], JSON_PATCH, 400),
        patch("JSON patch: replicas 2^64", D, '[{"op":"replace","path":"/spec/replicas","value":18446744073709551616}]',
              JSON_PATCH, 400),
        patch("JSON patch: replicas 1e309", D, '[{"op":"replace","path":"/spec/replicas","value":1e309}]',
              JSON_PATCH, 400),
        patch("JSON patch: a data value that is a number", T, [{"op": "add", "path": "/data/n", "value": 1}],
              JSON_PATCH, 400),
        patch("JSON patch: 30000 copies of a container", D,
              ops_rep([], {"op": "copy", "from": "/spec/template/spec/containers/0",
                           "path": "/spec/template/spec/containers/-"}, 30000), JSON_PATCH, "4xx",
              note="a list grown one element per operation, up to the body limit; duplicate names are invalid"),
        patch("JSON patch: 60000 finalizers", T,
              ops_rep([{"op": "add", "path": "/metadata/finalizers", "value": []}],
                      {"op": "add", "path": "/metadata/finalizers/-", "value": "a b"}, 60000), JSON_PATCH, "4xx"),
        patch("JSON patch: 14 doublings of a 1 KiB string on a custom resource", W,
              copy_doubling(14, "x" * 1024), JSON_PATCH, "4xx",
              note="grows to 16 MiB; the result limit must refuse it"),
        patch("JSON patch: 22 doublings of a 16-byte string on a custom resource", W,
              copy_doubling(22, "x" * 16), JSON_PATCH, "4xx",
              note="4 million leaves; a patch engine that copies first and checks the size afterwards "
                   "spends gigabytes here, and a few more doublings exhaust memory"),
        patch("JSON patch: a chain copied into itself until 100000 deep", W,
              depth_doubling(100, 10), JSON_PATCH, "4xx",
              note="each copy doubles the depth; a recursive serializer or drop overflows the stack"),
        patch("JSON patch: 300 adds, each one level below the last", W,
              [{"op": "add", "path": "/spec/n", "value": {}}]
              + [{"op": "add", "path": "/spec/n" + "/a" * i, "value": {}} for i in range(1, 300)],
              JSON_PATCH, "4xx",
              note="an object deeper than any body may be (128 levels) cannot be read back"),
        dict(get("the widget still reads after the deep patches", W, 200), probe=True),
        dict(get("the widgets still list after the deep patches", WIDGETS, 200), probe=True),
        patch("JSON patch: on an object that does not exist", CM + "/nope",
              [{"op": "add", "path": "/data/a", "value": "b"}], JSON_PATCH, 404),
        patch("JSON patch: on a collection", CM, [{"op": "add", "path": "/data/a", "value": "b"}], JSON_PATCH, 405),
        patch("JSON patch: on a subresource configmaps lack", T + "/status",
              [{"op": "add", "path": "/data/a", "value": "b"}], JSON_PATCH, 404),
        # Merge patch.
        patch("merge patch: not JSON", T, "{", MERGE_PATCH, 400),
        patch("merge patch: a list", T, [{"data": {}}], MERGE_PATCH, 400),
        patch("merge patch: a string", T, '"x"', MERGE_PATCH, 400),
        patch("merge patch: null", T, "null", MERGE_PATCH, 400),
        patch("merge patch: empty body", T, "", MERGE_PATCH, 400),
        patch("merge patch: change metadata.name", T, {"metadata": {"name": "other"}}, MERGE_PATCH, 400),
        patch("merge patch: change metadata.namespace", T, {"metadata": {"namespace": "kube-system"}}, MERGE_PATCH, 400),
        patch("merge patch: change metadata.uid", T, {"metadata": {"uid": "00000000-0000-0000-0000-000000000000"}},
              MERGE_PATCH, "4xx", note="upstream: 422 metadata.uid: field is immutable"),
        patch("merge patch: remove metadata", T, {"metadata": None}, MERGE_PATCH, "4xx"),
        patch("merge patch: remove the kind", T, {"kind": None}, MERGE_PATCH, 400),
        patch("merge patch: change the kind", T, {"kind": "Secret"}, MERGE_PATCH, 400),
        patch("merge patch: change the apiVersion", T, {"apiVersion": "v9"}, MERGE_PATCH, 400),
        patch("merge patch: resourceVersion abc", T, {"metadata": {"resourceVersion": "abc"}}, MERGE_PATCH, 400),
        patch("merge patch: resourceVersion 2^64", T, {"metadata": {"resourceVersion": "18446744073709551616"}},
              MERGE_PATCH, 400),
        patch("merge patch: stale resourceVersion", T, {"metadata": {"resourceVersion": "1"}, "data": {"z": "z"}},
              MERGE_PATCH, 409),
        patch("merge patch: data value as a number", T, {"data": {"n": 1}}, MERGE_PATCH, 400),
        patch("merge patch: replicas 2^64", D, '{"spec":{"replicas":18446744073709551616}}', MERGE_PATCH, 400),
        patch("merge patch: replicas 1e309", D, '{"spec":{"replicas":1e309}}', MERGE_PATCH, 400),
        patch("merge patch: replicas -1", D, {"spec": {"replicas": -1}}, MERGE_PATCH, 422),
        patch("merge patch: 200 levels deep", W, cat('{"spec":', rep('{"a":', 200), "1", rep("}", 200), "}"),
              MERGE_PATCH, 400),
        patch("merge patch: duplicate keys (Strict)", T + "?fieldValidation=Strict",
              '{"data":{"a":"1","a":"2"}}', MERGE_PATCH, 400),
        patch("merge patch: 2.9 MiB of data", T, cat('{"data":{"k":"', rep("v", 2900 << 10), '"}}'),
              MERGE_PATCH, "4xx", note="a ConfigMap holds at most 1 MiB of data"),
        patch("merge patch: 4 MiB body", T, cat('{"data":{"big":"', rep("x", 4 << 20), '"}}'), MERGE_PATCH, 413),
        patch("merge patch: on an object that does not exist", CM + "/nope", {"data": {"a": "b"}}, MERGE_PATCH, 404),
        patch("merge patch: YAML bomb body", T,
              "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n", MERGE_PATCH, 400),
        patch("merge patch on scale: replicas as a string", D + "/scale", {"spec": {"replicas": "many"}},
              MERGE_PATCH, "4xx"),
        patch("merge patch on scale: replicas 2^64", D + "/scale", '{"spec":{"replicas":18446744073709551616}}',
              MERGE_PATCH, "4xx"),
        patch("merge patch on scale: replicas -1", D + "/scale", {"spec": {"replicas": -1}}, MERGE_PATCH, "4xx"),
        # Content types.
        patch("PATCH with text/plain", T, {"data": {"a": "b"}}, "text/plain", 415),
        patch("PATCH with application/json", T, {"data": {"a": "b"}}, JSON, 415),
        patch("PATCH without a Content-Type", T, {"data": {"a": "b"}}, None, 415),
        patch("PATCH with a protobuf Content-Type", T, b64(b"k8s\x00\x0a\x00"), PROTOBUF, 415),
        # Strategic merge patch and server-side apply: 415 until they land, then still 4xx.
        patch("SMP: not JSON", T, "{", SMP, "4xx"),
        patch("SMP: a list", T, "[]", SMP, "4xx"),
        patch("SMP: change the name", T, {"metadata": {"name": "other"}}, SMP, "4xx"),
        patch("SMP: change the kind", T, {"kind": "Secret"}, SMP, "4xx"),
        patch("SMP: $patch bogus", D, {"spec": {"template": {"spec": {"containers": [{"$patch": "bogus"}]}}}},
              SMP, "4xx"),
        patch("SMP: $patch delete at the root", T, {"$patch": "delete"}, SMP, "4xx"),
        patch("SMP: $setElementOrder that is not a list", D,
              {"spec": {"template": {"spec": {"$setElementOrder/containers": "c"}}}}, SMP, "4xx"),
        patch("SMP: $retainKeys that is not a list", D, {"spec": {"strategy": {"$retainKeys": 5}}}, SMP, "4xx"),
        patch("SMP: $deleteFromPrimitiveList with an object", T,
              {"metadata": {"$deleteFromPrimitiveList/finalizers": {"a": 1}}}, SMP, "4xx"),
        patch("SMP: container without its merge key", D,
              {"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}, SMP, "4xx"),
        patch("SMP: 200 levels deep", W, cat('{"spec":', rep('{"a":', 200), "1", rep("}", 200), "}"), SMP, "4xx"),
        patch("SMP: replicas 2^64", D, '{"spec":{"replicas":18446744073709551616}}', SMP, "4xx"),
        patch("SMP: on an object that does not exist", CM + "/nope", {"data": {"a": "b"}}, SMP, "4xx"),
        patch("SMP: 4 MiB body", T, cat('{"data":{"big":"', rep("x", 4 << 20), '"}}'), SMP, "4xx"),
        patch("apply: YAML bomb", T + "?fieldManager=hostile",
              "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: target}\n"
              "a: &a [x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
              "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
              "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\n", APPLY, "4xx"),
        patch("apply: not YAML", T + "?fieldManager=hostile", "{[", APPLY, "4xx"),
        patch("apply: without a fieldManager", T, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: target}\n",
              APPLY, "4xx", note="upstream: 422 fieldManager is required for apply patch"),
        patch("apply: without apiVersion and kind", T + "?fieldManager=hostile", "metadata: {name: target}\n",
              APPLY, "4xx"),
        patch("apply: a name that differs from the URL", T + "?fieldManager=hostile",
              "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n", APPLY, "4xx"),
        patch("apply: a kind that differs from the URL", T + "?fieldManager=hostile",
              "apiVersion: v1\nkind: Secret\nmetadata: {name: target}\n", APPLY, "4xx"),
        patch("apply: replicas 1e309", D + "?fieldManager=hostile",
              "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 1e309}\n", APPLY, "4xx"),
        patch("apply: an uppercase name on a new object", CM + "/Upper?fieldManager=hostile",
              "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Upper}\n", APPLY, "4xx"),
        patch("apply: a list body", T + "?fieldManager=hostile", "- a\n- b\n", APPLY, "4xx"),
        patch("apply: force=maybe", T + "?fieldManager=hostile&force=maybe",
              "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: target}\n", APPLY, "4xx"),
    ]
    return cases


# ---------------------------------------------------------------------------------------
# protobuf: the k8s\0 envelope, broken every way.


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, payload: bytes):
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def envelope(api_version, kind, raw_obj: bytes, extra=b""):
    type_meta = field(1, api_version.encode()) + field(2, kind.encode())
    return b"k8s\x00" + field(1, type_meta) + field(2, raw_obj) + extra


def configmap_pb(name: bytes):
    meta = field(1, name)
    return field(1, meta) + field(2, field(1, b"a") + field(2, b"b"))


def protobuf():
    ok = envelope("v1", "ConfigMap", configmap_pb(b"pbok"))
    cases = [
        ("empty body", b""),
        ("random bytes", bytes(range(256))),
        ("JSON under the protobuf type", dumps(cm(None)).encode()),
        ("the magic only", b"k8s\x00"),
        ("a wrong magic", b"k9s\x00" + ok[4:]),
        ("a truncated varint", b"k8s\x00\x0a\xff"),
        ("an eleven-byte varint", b"k8s\x00\x0a" + b"\xff" * 10 + b"\x01"),
        ("a length of 2^63", b"k8s\x00\x0a" + varint(1 << 63)),
        ("a length past the end", b"k8s\x00\x0a\x7f\x0a\x02v1"),
        ("field number 0", b"k8s\x00\x02\x00"),
        ("wire type 7", b"k8s\x00\x0f"),
        ("a start group never ended", b"k8s\x00\x0b"),
        ("20000 nested start groups", (b"k8s\x00", b"\x0b\x0b\x0b", 6666, b"\x0b\x0b")),
        ("no apiVersion", b"k8s\x00" + field(1, field(2, b"ConfigMap")) + field(2, configmap_pb(b"x"))),
        ("no kind", b"k8s\x00" + field(1, field(1, b"v1")) + field(2, configmap_pb(b"x"))),
        ("an unknown kind", envelope("v1", "Frobnicator", b"")),
        ("a kind that does not match the URL", envelope("v1", "Namespace", field(1, field(1, b"pbns")))),
        ("a gzip content encoding", envelope("v1", "ConfigMap", configmap_pb(b"pbgz"), field(3, b"gzip"))),
        ("a JSON content type inside", envelope("v1", "ConfigMap", configmap_pb(b"pbct"),
                                                field(4, b"application/json"))),
        ("an object that is garbage", envelope("v1", "ConfigMap", b"\xff\xff\xff\xff")),
        ("an object truncated by one byte", envelope("v1", "ConfigMap", configmap_pb(b"pbtr")[:-1])),
        ("a name that is not UTF-8", envelope("v1", "ConfigMap", configmap_pb(b"a\xffb"))),
        ("the name ..", envelope("v1", "ConfigMap", configmap_pb(b".."))),
        ("an uppercase name", envelope("v1", "ConfigMap", configmap_pb(b"PB"))),
        ("a string where a message goes", envelope("v1", "ConfigMap", field(1, b"\xff\xfe\xfd"))),
        ("a varint where a string goes", envelope("v1", "ConfigMap", field(1, b"\x08\x01"))),
        ("200 nested messages", envelope("apps/v1", "Deployment",
                                         (lambda: (lambda f: f(f, 200))(
                                             lambda self, n: b"" if n == 0 else field(1, self(self, n - 1))))())),
        ("100000 empty fields, then a truncated one", (envelope("v1", "ConfigMap", configmap_pb(b"pbmany")),
                                                       b"\x2a\x00\x2a\x00\x2a\x00", 33333, b"\x2a\x05ab")),
    ]
    def text(body):
        if isinstance(body, tuple):
            prefix, unit, times, suffix = body
            return cat(b64(prefix), rep(b64(unit), times), b64(suffix))
        return b64(body)

    out = [post(f"protobuf: {name}", CM, text(body), "4xx", content_type=PROTOBUF) for name, body in cases]
    out.append(post("protobuf: 4 MiB body", CM, cat({"b64": base64.b64encode(b"k8s\x00").decode()},
                                                     rep("A", 4 << 20)), "4xx", content_type=PROTOBUF))
    out.append(case("protobuf: PUT of garbage", "PUT", CM + "/target", "4xx", body=b64(b"k8s\x00\xff"),
                    content_type=PROTOBUF))
    out.append(case("protobuf: Content-Type with parameters and garbage", "POST", CM, "4xx",
                    body=b64(b"\x00" * 64), content_type=PROTOBUF + "; charset=binary; x=" + "y" * 1000))
    return out


# ---------------------------------------------------------------------------------------
# protocol: requests broken below the API (headers, framing, methods).


def protocol():
    missing = CM + "/does-not-exist"
    ctbin = dumps(cm()).encode()

    cases = [
        case("a 64 KiB header", "GET", missing, 404, headers=[["X-Junk", rep("j", 64 << 10)]]),
        case("a 300 KiB header", "GET", missing, 404, headers=[["X-Junk", rep("j", 300 << 10)]]),
        raw("a 1 MiB header", cat(f"GET {missing} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Junk: ",
                                   rep("j", 1 << 20), "\r\nConnection: close\r\n\r\n"), 431, http_layer=True),
        raw("200 headers", cat(f"GET {missing} HTTP/1.1\r\nHost: 127.0.0.1\r\n", rep("X-H: v\r\n", 200),
                               "Connection: close\r\n\r\n"), 431, http_layer=True),
        case("an Accept header of 10000 unusable types", "GET", missing, 406,
             headers=[["Accept", cat(rep("text/x-nope,", 9999), "text/x-nope")]]),
        case("an Accept header asking for a Table of another group", "GET", missing, 406,
             headers=[["Accept", "application/json;as=Table;g=evil.example.com;v=v1"]]),
        case("an Accept header of protobuf only", "GET", CM + "/target", 406,
             headers=[["Accept", PROTOBUF]], note="replies stay JSON; protobuf-only clients get 406"),
        raw("a Content-Type that is not UTF-8",
            b64(f"POST {CM} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nContent-Type: text/".encode()
                + b"\xff\xfe" + f"\r\nContent-Length: {len(ctbin)}\r\nConnection: close\r\n\r\n".encode()
                + ctbin), 415,
            note="an unreadable Content-Type must not be taken for JSON"),
        case("a Content-Type of 64 KiB", "POST", CM, 415, body=dumps(cm(None)),
             content_type=cat("application/x-", rep("a", 64 << 10))),
        case("a Content-Type with an empty media type", "POST", CM, "4xx", body="{nope", content_type=";charset=utf-8"),
        case("multipart form data", "POST", CM, 415, body="--b\r\n\r\nx\r\n--b--", content_type="multipart/form-data; boundary=b"),
        case("form-urlencoded", "POST", CM, 415, body="apiVersion=v1&kind=ConfigMap",
             content_type="application/x-www-form-urlencoded"),
        raw("Content-Length -1", f"POST {CM} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -1\r\n"
            "Connection: close\r\n\r\n", 400, http_layer=True),
        raw("Content-Length 2^64", f"POST {CM} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 18446744073709551616\r\n"
            "Connection: close\r\n\r\n", 400, http_layer=True),
        raw("two different Content-Lengths", f"POST {CM} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\n"
            "Content-Length: 3\r\nConnection: close\r\n\r\n{}", 400, http_layer=True),
        raw("a declared 1 GiB body that never comes", f"POST {CM} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Accept: application/json\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\n"
            "Connection: close\r\n\r\n{", 413, note="the length alone is over the limit; no need to wait"),
        raw("a chunk size that is not hex", f"POST {CM} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
            "4xx", http_layer=True),
        raw("a chunk size of 2^72", f"POST {CM} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            "1000000000000000000\r\n{}\r\n0\r\n\r\n", "4xx", http_layer=True),
        raw("a 4 MiB chunked body", cat(f"POST {CM} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n"
                                         "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                                         "Connection: close\r\n\r\n",
                                         rep(cat("10000\r\n", rep(" ", 0x10000), "\r\n"), 64), "0\r\n\r\n"), 413),
        raw("chunked and a Content-Length", f"POST {CM} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n"
            "Connection: close\r\n\r\n4\r\n{}[]\r\n0\r\n\r\n", "4xx", http_layer=True),
        raw("a request line of garbage", "GARBAGE\r\n\r\n", 400, http_layer=True),
        raw("a raw NUL in the path", b64(b"GET /api/v1/namespaces/hostile/configmaps/a\x00b HTTP/1.1\r\n"
                                         b"Host: 127.0.0.1\r\nConnection: close\r\n\r\n"), 400, http_layer=True),
        raw("a raw space in the path", f"GET {CM}/a b HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
            400, http_layer=True),
        raw("a 100 KB path", cat("GET /api/v1/namespaces/hostile/configmaps/", rep("a", 100_000),
                                 " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"), "4xx", http_layer=True),
        raw("a header name with a space", f"GET {missing} HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header: x\r\n"
            "Connection: close\r\n\r\n", 400, http_layer=True),
        raw("an obsolete folded header", f"GET {missing} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: a\r\n b\r\n"
            "Connection: close\r\n\r\n", 400, http_layer=True),
        raw("a lowercase method", f"get {missing} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n"
            "Connection: close\r\n\r\n", 405),
        raw("an unknown method", f"FROBNICATE {CM}/target HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n"
            "Connection: close\r\n\r\n", 405),
        raw("TRACE", f"TRACE {CM}/target HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n"
            "Connection: close\r\n\r\n", 405),
        raw("a 1000-character method", f"{'M' * 1000} {CM}/target HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Accept: application/json\r\nConnection: close\r\n\r\n", "4xx", http_layer=True),
        raw("an absolute URI naming another host", f"GET https://evil.example{missing} HTTP/1.1\r\n"
            "Host: evil.example\r\nAccept: application/json\r\nConnection: close\r\n\r\n", 404),
        raw("Expect: 100-continue with an oversized body", cat(
            f"POST {CM} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\nContent-Type: application/json\r\n"
            f"Expect: 100-continue\r\nContent-Length: {4 << 20}\r\nConnection: close\r\n\r\n", rep("x", 4 << 20)), 413),
    ]
    return cases


def expand(value):
    """The bytes of a text value (see the README)."""
    if isinstance(value, str):
        return value.encode()
    if "b64" in value:
        return base64.b64decode(value["b64"])
    if "concat" in value:
        return b"".join(expand(part) for part in value["concat"])
    return expand(value["repeat"]) * value["times"]


def write_fuzz_seeds(themes, out_dir, max_len=4096):
    """Seeds for the cargo-fuzz targets (fuzz/, docs/fuzzing.md): request bodies for
    `decode_body`, and `document NUL patch` pairs for `patches`, with the document the
    case aims at. Inputs longer than libFuzzer's default max_len are left out."""
    import hashlib

    setup_objects = {}
    for c in themes["setup"]:
        if c["method"] == "POST" and "body" in c:
            obj = json.loads(expand(c["body"]))
            setup_objects[obj["metadata"]["name"]] = obj
    counts = {"decode_body": 0, "patches": 0}
    for theme, cases in themes.items():
        for c in cases:
            if "body" not in c:
                continue
            body = expand(c["body"])
            if c["method"] == "PATCH":
                name = c["path"].split("?")[0].rstrip("/").split("/")[-1] if isinstance(c["path"], str) else ""
                doc = setup_objects.get(name)
                if doc is None:
                    continue
                target, data = "patches", dumps(doc).encode() + b"\0" + body
            else:
                target, data = "decode_body", body
            if len(data) > max_len:
                continue
            directory = os.path.join(out_dir, target)
            os.makedirs(directory, exist_ok=True)
            with open(os.path.join(directory, hashlib.sha1(data).hexdigest()), "wb") as f:
                f.write(data)
            counts[target] += 1
    return counts


def main():
    themes = {
        "setup": setup(),
        "decode": decode(),
        "yaml": yaml_cases(),
        "numbers": numbers(),
        "names": names(),
        "paths": paths(),
        "query": query(),
        "patches": patches(),
        "protobuf": protobuf(),
        "protocol": protocol(),
    }
    if len(sys.argv) == 3 and sys.argv[1] == "--fuzz-seeds":
        print(write_fuzz_seeds(themes, sys.argv[2]))
        return
    total = 0
    for theme, cases in themes.items():
        names_seen = set()
        for c in cases:
            assert c["name"] not in names_seen, f"duplicate case name in {theme}: {c['name']}"
            names_seen.add(c["name"])
        path = os.path.join(HERE, f"{theme}.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            for c in cases:
                f.write(json.dumps(c, ensure_ascii=True, separators=(",", ":")) + "\n")
        if theme != "setup":
            total += sum(1 for c in cases if not c.get("probe"))
        print(f"{theme}: {len(cases)}")
    print(f"hostile cases: {total}")


if __name__ == "__main__":
    main()
