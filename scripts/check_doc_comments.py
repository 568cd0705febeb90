#!/usr/bin/env python3
"""Lists the public declarations of the library targets that have no doc comment.

Every `public`/`open` declaration under Sources/ (except the command-line tool, Sources/modelfile,
and the C system-library modules), every case of a public enum and every requirement of a public
protocol needs a `///` (or `/** */`) comment directly above it (attributes may sit between).
Witnesses of the standard library's protocols (`description`, `==`, `hash(into:)`, …) take their
documentation from the protocol and are not listed.

    python3 scripts/check_doc_comments.py [REPOSITORY]    # exit 1 when something is listed
"""
import os
import re
import sys

MODIFIERS = (r"(?:(?:static|class|final|override|mutating|nonmutating|convenience|required|indirect|nonisolated|lazy|"
             r"dynamic|weak|unowned|(?:private|fileprivate|internal|public)\(set\))\s+)*")
ATTRIBUTES = r"(?:@[\w.]+(?:\([^)]*\))?\s+)*"
PUBLIC = re.compile(r"^\s*" + ATTRIBUTES + r"(?:public|open)\s+" + MODIFIERS +
                    r"(func|var|let|init|struct|enum|class|protocol|subscript|typealias|case|extension|actor|associatedtype)\b")
MEMBER = re.compile(r"^\s*" + ATTRIBUTES + MODIFIERS + r"(func|var|let|init|subscript|associatedtype|case)\b")
TYPE = re.compile(r"^\s*" + ATTRIBUTES + r"(?:(?:public|open|internal|fileprivate|private|final|indirect)\s+)*"
                  r"(struct|enum|class|protocol|actor|extension)\b")
# Standard-library protocol witnesses: documented by the protocol they implement.
WITNESSES = re.compile(r"\b(?:var (?:description|debugDescription|errorDescription|underestimatedCount)\b|"
                       r"func (?:==|<|hash\(into|makeIterator\(\)|next\(\)|encode\(to)|"
                       r"init\((?:stringLiteral|integerLiteral|floatLiteral|booleanLiteral|nilLiteral|unicodeScalarLiteral|extendedGraphemeClusterLiteral|from decoder|arrayLiteral|dictionaryLiteral)\b)")


def strip_strings(line):
    """The line without string literals and line comments, for counting braces."""
    line = re.sub(r'"(?:[^"\\]|\\.)*"', '""', line)
    return line.split("//", 1)[0]


def documented(lines, index):
    j = index - 1
    while j >= 0 and re.match(r"^\s*@[\w.]+", lines[j]) and not lines[j].strip().startswith("///"):
        j -= 1
    previous = lines[j].strip() if j >= 0 else ""
    return previous.startswith("///") or previous.endswith("*/")


def check(path):
    lines = open(path, encoding="utf-8").read().split("\n")
    missing = []
    frames = []  # (kind, is public, depth at which its members live)
    depth = 0
    in_block_comment = False
    for index, line in enumerate(lines):
        stripped = line.strip()
        if in_block_comment:
            in_block_comment = "*/" not in stripped
            continue
        if stripped.startswith("/*") and "*/" not in stripped:
            in_block_comment = True
            continue
        if stripped.startswith("//"):
            continue
        inner = frames[-1] if frames and frames[-1][2] == depth else None
        public = PUBLIC.match(line)
        member = MEMBER.match(line)
        needs = False
        if public and public.group(1) != "extension":
            needs = True
        elif member and inner and inner[1] and inner[0] in ("enum", "protocol"):
            needs = member.group(1) == "case" if inner[0] == "enum" else member.group(1) != "case"
        if needs and not WITNESSES.search(line) and not documented(lines, index):
            missing.append(f"{path}:{index + 1}: {stripped[:110]}")
        code = strip_strings(line)
        type_match = TYPE.match(line)
        opens, closes = code.count("{"), code.count("}")
        if type_match and opens > closes:
            is_public = bool(re.search(r"\b(public|open)\b", line.split(type_match.group(1))[0] + type_match.group(1)))
            frames.append((type_match.group(1), is_public, depth + 1))
        depth += opens - closes
        while frames and frames[-1][2] > depth:
            frames.pop()
    return missing


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    sources = os.path.join(root, "Sources")
    missing = []
    for target in sorted(os.listdir(sources)):
        if target == "modelfile" or not os.path.isdir(os.path.join(sources, target)):
            continue
        for folder, _, files in sorted(os.walk(os.path.join(sources, target))):
            for name in sorted(files):
                if name.endswith(".swift"):
                    missing += check(os.path.join(folder, name))
    for entry in missing:
        print(os.path.relpath(entry.split(":", 1)[0], root) + ":" + entry.split(":", 1)[1])
    if missing:
        print(f"{len(missing)} public declarations without a doc comment", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
