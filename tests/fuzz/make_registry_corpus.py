#!/usr/bin/python3
"""Regenerates the seed inputs of the registry's fuzz targets (corpus/registry_csv/seed-*,
corpus/registry_request/seed-*). Usage: make_registry_corpus.py KP_PY_DIR (the build tree's
tests/integration/py). Inputs found by fuzzing are merged by hand and are not touched here."""
import os
import sys

sys.path.insert(0, sys.argv[1])
from kumppani.v1 import registry_pb2 as R  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))


def put(target, name, data):
    d = os.path.join(here, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


CSV = {
    "orgs": b",name_fi,name_sv,association_number,business_id,home_municipality,municipalities,"
            b"fields,networks,email,phone,web,member_count,status\n"
            b"Sein\xc3\xa4joen Mielenterveysseura ry,,123.456,0201256-6,743,743|408,"
            b"mental-health|youth,ngo-council,info@example.fi,+358 6 123 4567,"
            b"https://example.fi,120,active\n"
            b"\"Lapuan \"\"Martat\"\"\",\"Lappo, Martha\",,,408,,older-people,,,,,,\n",
    "semi": b"\x01name_fi;home_municipality;fields\r\nKurikan Kyl\xc3\xa4;301;village\r\n"
             b"\"multi\nline\";301;\r\n",
    "formula": b",name_fi,home_municipality,email\n'=cmd|' /C calc'!A0,743,'@x\n"
               b"\"'-1+1\",743,\"+358\"\n=HYPERLINK(\"x\"),743,\n",
    "munis": b",code,name_fi,name_sv,region_code,region_name\n"
             b"091,Helsinki,Helsingfors,01,Uusimaa\n\n092,Vantaa,Vanda,01,Uusimaa",
    "bad": b",name_fi,home\n\"open quote,743\nx\"y,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,"
           b"19,20,21,22,23,24,25,26\n  | a || b |,\xff\xfe,\n",
}
for k, v in CSV.items():
    put("registry_csv", k, v)

f = R.OrganisationFields(name_fi="Ähtärin Eläkkeensaajat ry", name_sv="Etseri pensionärer",
                         business_id="0201256-6", association_number="123.456",
                         home_municipality="989", municipalities=["989", "010"],
                         fields=[R.FIELD_OLDER_PEOPLE], networks=["ngo-council"],
                         email="info@example.fi", phone="+358 40 123 4567",
                         web="https://example.fi", member_count=80)
REQ = [
    R.RegisterOrganisationRequest(fields=f),
    R.UpdateOrganisationRequest(id=7, fields=f, expected_updated_ms=1700000000000),
    R.DissolveOrganisationRequest(id=7, dissolved_on="2026-02-29"),
    R.OrganisationRef(id=18446744073709551615),
    R.SearchRequest(query="sein ÄHT åbo", municipality="743", field=R.FIELD_YOUTH,
                    network="ngo-council", status=R.ORG_STATUS_ACTIVE, limit=200,
                    cursor="7365696e00000000000000000007"),
    R.Municipality(code="091", name_fi="Helsinki", name_sv="Helsingfors", region_code="01"),
    R.ListMunicipalitiesRequest(),
    R.AddPersonRequest(name="Päivi Öhman-Åberg", email="p@example.fi", phone="040-1234567"),
    R.UpdatePersonRequest(id=3, name="P", email="", phone=""),
    R.PersonRef(person_id=3),
    R.AssignRoleRequest(person_id=3, kind=R.ROLE_KIND_CONTACT_PERSON, municipality_code="743",
                        start_date="2026-01-01", end_date="2026-12-31", title="yhdyshenkilö"),
    R.EndRoleRequest(role_id=4, end_date="2026-06-30"),
    R.ListRolesRequest(municipality_code="743", include_ended=True),
    R.CoverageGapsRequest(),
    R.CoverageIdleRequest(months=6),
    R.ImportRequest(kind=R.CSV_KIND_ORGANISATIONS, csv=CSV["orgs"][1:], skip_invalid=True),
    R.ExportRequest(kind=R.CSV_KIND_ORGANISATIONS, municipality="743"),
]
for i, m in enumerate(REQ):
    put("registry_request", "%02d-%s" % (i, type(m).__name__), bytes([i]) + m.SerializeToString())
