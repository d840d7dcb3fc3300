# timeout: 30
"""The web's text files (services/web/templates/text): fi, sv and en hold the same keys, for the
public pages (<lang>.txt) and for the back office (bo_<lang>.txt). The web falls back to Finnish
for a key missing from sv or en, so a missing key shows a Finnish word on a Swedish or English
page without any other sign: this test is the sign. Also checked: every line is a comment, blank
or "key = value" (the format text.c reads), no key is given twice in one file, and no value is
empty. Adding a key to one file means adding it, translated, to the other two."""
import os
import re
import sys

SRC = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TEXT = os.path.join(SRC, "services", "web", "templates", "text")
LANGS = ("fi", "sv", "en")
KEY = re.compile(r"^[A-Za-z0-9_.-]+$")

problems = []


def keys_of(path):
    keys = {}
    with open(path, encoding="utf-8") as f:
        for no, line in enumerate(f, 1):
            line = line.rstrip("\r\n").lstrip(" \t")
            if not line or line.startswith("#"):
                continue
            if " = " not in line:
                problems.append("%s line %d: not \"key = value\"" % (os.path.basename(path), no))
                continue
            k, v = line.split(" = ", 1)
            if not KEY.match(k):
                problems.append("%s line %d: key %r is not [A-Za-z0-9_.-]" %
                                (os.path.basename(path), no, k))
            if k in keys:
                problems.append("%s line %d: key %s given again (first on line %d)" %
                                (os.path.basename(path), no, k, keys[k][0]))
            if not v.strip():
                problems.append("%s line %d: key %s has an empty text" %
                                (os.path.basename(path), no, k))
            keys[k] = (no, v)
    return keys


checked = 0
for prefix in ("", "bo_"):
    sets = {l: keys_of(os.path.join(TEXT, "%s%s.txt" % (prefix, l))) for l in LANGS}
    every = set().union(*(set(s) for s in sets.values()))
    for l in LANGS:
        missing = sorted(every - set(sets[l]))
        if missing:
            others = [o for o in LANGS if o != l and set(missing) & set(sets[o])]
            problems.append("%s%s.txt lacks %d key(s) that %s have: %s" %
                            (prefix, l, len(missing), "/".join("%s%s.txt" % (prefix, o)
                                                               for o in others),
                             ", ".join(missing)))
    checked += len(every)
    # Not a rule that can always hold (a name, "webhook"), but a long text equal to the Finnish
    # one is a copy that was never translated.
    for l in ("sv", "en"):
        for k, (no, v) in sets[l].items():
            fi = sets["fi"].get(k)
            if fi and v == fi[1] and len(v) > 40:
                problems.append("%s%s.txt line %d: %s is the Finnish text, untranslated" %
                                (prefix, l, no, k))

if checked < 500:
    problems.append("only %d keys found: are the text files where this test looks (%s)?" %
                    (checked, TEXT))
for p in problems:
    print("FAIL:", p)
if problems:
    sys.exit(1)
print("ok: %d keys, the same in fi, sv and en (public pages and back office)" % checked)
