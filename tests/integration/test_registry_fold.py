# timeout: 120
"""Registry search without diacritics (issue 16): "ahtari" finds Ähtäri, "seinajoen" Seinäjoen,
"ostermark" Östermark (in name_sv), as typed on phones and foreign keyboards; the query with the
letters still finds them, and the results keep the Finnish order (å, ä, ö after z).

Then the upgrade: the store is turned back into what schema 1 wrote (words in collation form,
ä ö å as the bytes after z, in the words index and at the end of each byname summary; meta
schema 1). The registry re-indexes it on open, so the same searches find the same names."""
import struct

import lmdb

from kp_harness import check, done, Suite
from kp_registry import R, open_stopped_store, register, search, start_registry

ORGS = [
    ("Ähtärin Eläkkeensaajat", "", "989"),
    ("Seinäjoen Mielenterveysseura", "", "743"),
    ("Teuvan Kyläyhdistys", "Östermarks Byförening", "846"),
    ("Zonta Seinäjoki", "", "743"),
    ("Åsa Müller Seura", "", "743"),
    ("Ahtaan Asunnot", "", "743"),
]
QUERIES = [
    ("ahtari", ["Ähtärin Eläkkeensaajat"]),
    ("ÄHTÄRI", ["Ähtärin Eläkkeensaajat"]),
    ("seinajoen", ["Seinäjoen Mielenterveysseura"]),
    ("seinaj", ["Seinäjoen Mielenterveysseura", "Zonta Seinäjoki"]),
    ("seinäj", ["Seinäjoen Mielenterveysseura", "Zonta Seinäjoki"]),
    ("ostermark", ["Teuvan Kyläyhdistys"]),
    ("kylayhd", ["Teuvan Kyläyhdistys"]),
    ("muller", ["Åsa Müller Seura"]),
    ("asa", ["Åsa Müller Seura"]),
    # Folded matching, Finnish order: A before Z before Å before Ä.
    ("a", ["Ahtaan Asunnot", "Åsa Müller Seura", "Ähtärin Eläkkeensaajat"]),
    ("ah", ["Ahtaan Asunnot", "Ähtärin Eläkkeensaajat"]),
]


def run_queries(c, when):
    for q, want in QUERIES:
        got = [o.fields.name_fi for o in search(c, query=q, limit=50).organisations]
        check(got == want, "%s: %r finds %s (got %s)" % (when, q, want, got))


def old_words(name):
    """The words schema 1 stored: collation form, å ä ö as 0x7b 0x7c 0x7d, ü as y."""
    out = []
    for w in name.lower().split():
        b = bytearray()
        for ch in w:
            b += {"å": b"\x7b", "ä": b"\x7c", "ö": b"\x7d", "ü": b"y"}.get(ch, ch.encode())
        out.append(bytes(b))
    return out


def new_words(name):
    return [w.encode() for w in name.lower().translate(str.maketrans("åäöü", "aaou")).split()]


s = Suite()
try:
    p = start_registry(s)
    c = s.client(s.reg_api)
    for i, (fi, sv, home) in enumerate(ORGS):
        r = register(c, "fold%d" % i, name=fi, name_sv=sv, home=home, flds=[R.FIELD_VILLAGE])
        check(r.status.code == 0, "registered %s" % fi)
    run_queries(c, "schema 2")

    # Back to schema 1's layout.
    store, env = open_stopped_store(s, p, c)
    meta, words, byname = (env.open_db(n) for n in (b"meta", b"words", b"byname"))
    with env.begin(write=True) as t:
        cur = t.cursor(db=words)
        check(any(True for _ in cur), "the words index has entries")
        t.drop(words, delete=False)
        summaries = [(bytes(k), bytes(v)) for k, v in t.cursor(db=byname)]
        for fi, sv, _ in ORGS:
            olds = old_words(fi) + old_words(sv)
            news = new_words(fi) + new_words(sv)
            tail = b" ".join(news) + b" "
            for pos, v in summaries:
                if v.endswith(tail):
                    t.put(pos, v[:-len(tail)] + b" ".join(olds) + b" ", db=byname)
                    for w in olds:
                        t.put(w + b"\0" + pos, b"", db=words)
        t.put(b"schema", struct.pack(">Q", 1), db=meta)
    env.close()

    p = start_registry(s)
    c = s.client(s.reg_api)
    run_queries(c, "after the upgrade from schema 1")
    check("registry.migrate" in p.logtext(), "the re-index is logged")
    env = lmdb.open(store, max_dbs=32, readonly=True, lock=False)
    with env.begin() as t:
        v = t.get(b"schema", db=env.open_db(b"meta", txn=t, create=False))
    env.close()
    check(v is not None and struct.unpack(">Q", v)[0] == 2, "the store records schema 2")
    c.close()
finally:
    s.close()
done()
