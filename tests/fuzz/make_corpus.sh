#!/bin/sh
# Regenerates the seed inputs in corpus/ from the text-format messages below, with
# `protoc --encode` (Debian: protobuf-compiler). Run from anywhere; writes only corpus/*/seed-*.
# Inputs found by fuzzing are merged into corpus/ by hand and are not touched here.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
enc() { # enc TYPE FILE  (text on stdin)
    protoc --encode="kumppani.v1.$1" -I "$root/proto" kumppani/v1/envelope.proto \
        kumppani/v1/events.proto kumppani/v1/log.proto >"$2"
}
# The bytes of a file as a text-format string literal ("\x0a\x03...").
lit() { od -An -v -tx1 "$1" | tr -d ' \n' | sed 's/\(..\)/\\x\1/g'; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$here/corpus/envelope" "$here/corpus/signup" "$here/corpus/replay_page" \
    "$here/corpus/text"

# ---- bodies -----------------------------------------------------------------------------
enc SubmitSignupRequest "$tmp/signup" <<'T'
event_id: 7 source: "county-portal" external_id: "A-1001" name: "Päivi Öhman-Åberg"
email: "paivi.ohman@example.fi" phone: "+358 40 123 4567" organisation: "Etelä-Pohjanmaan Järjestöt ry"
role: ROLE_NGO consent_reminders: true language: "fi"
T
enc SubmitSignupRequest "$tmp/signup2" <<'T'
event_id: 18446744073709551615 source: "x" external_id: "😀" name: "Åsa" phone: "040-1234567" role: ROLE_EXPERIENCE_EXPERT language: "sv"
T
enc CreateEventRequest "$tmp/create" <<'T'
kind: KIND_PARTNERSHIP_TABLE title: "Kumppanuuspöytä: hyvinvointi" municipality_code: "743"
start_unix: 1900000000 end_unix: 1900007200 capacity: 40 place: "Seinäjoen kaupungintalo"
online_url: "https://example.fi/meet" language: "fi" signup_deadline_unix: 1899990000
T
enc EventRef "$tmp/ref" <<'T'
event_id: 42
T
enc ListEventsRequest "$tmp/list" <<'T'
after_id: 10 limit: 500
T
enc CancelSignupRequest "$tmp/cancel" <<'T'
source: "county-portal" external_id: "A-1001" signup_id: 3
T
enc ListSignupsRequest "$tmp/lists" <<'T'
event_id: 7 after_id: 0 limit: 1000
T
enc ReplayRequest "$tmp/replay" <<'T'
from_seq: 1 limit: 1000
T

# ---- envelope ---------------------------------------------------------------------------
rid=1000
req() { # req NAME METHOD BODYFILE [KEY]
    rid=$((rid + 1))
    printf 'request_id: %s method: "%s" idempotency_key: "%s" body: "%s"\n' \
        "$rid" "$2" "${4:-}" "$(lit "$3")" |
        enc Request "$here/corpus/envelope/seed-$1"
}
req submit events.signup.submit "$tmp/signup"
req submit2 events.signup.submit "$tmp/signup2"
req create events.event.create "$tmp/create" "create-7f3a"
req publish events.event.publish "$tmp/ref"
req get events.event.get "$tmp/ref"
req list events.event.list "$tmp/list"
req cancel events.signup.cancel "$tmp/cancel"
req lists events.signup.list "$tmp/lists"
req replay log.replay "$tmp/replay"
: >"$tmp/empty"
req health sys.health "$tmp/empty"
req unknown no.such.method "$tmp/ref"
# Malformed: truncated varint, a length past the end, wire type 3, a NUL in a string,
# invalid UTF-8 in method, and an envelope whose body is malformed.
printf '\010\200' >"$here/corpus/envelope/seed-bad-varint"
printf '\022\011events' >"$here/corpus/envelope/seed-bad-length"
printf '\010\001\013' >"$here/corpus/envelope/seed-bad-wiretype"
printf '\022\004a\000bc' >"$here/corpus/envelope/seed-bad-nul"
printf '\022\002\303\050' >"$here/corpus/envelope/seed-bad-utf8"
printf 'method: "events.signup.submit" body: "\\x22\\x05Ma\\x00xy"\n' |
    enc Request "$here/corpus/envelope/seed-bad-body"

# ---- signup -----------------------------------------------------------------------------
cp "$tmp/signup" "$here/corpus/signup/seed-full"
cp "$tmp/signup2" "$here/corpus/signup/seed-edge"
printf '\042\005Ma\000xy' >"$here/corpus/signup/seed-bad-nul"
printf '\052\026a@b.fi\015\012Bcc: x@evil.fi' >"$here/corpus/signup/seed-bad-crlf"
printf '\042\002\300\200' >"$here/corpus/signup/seed-bad-overlong"
printf '\042\002\302\205' >"$here/corpus/signup/seed-bad-c1"
printf '\010\007\043' >"$here/corpus/signup/seed-bad-wiretype"

# ---- replay_page ------------------------------------------------------------------------
enc ReplayPage "$here/corpus/replay_page/seed-page" <<'T'
events { seq: 1 source: "events" time_ms: 1763892611123 type: "EventCreated" payload: "\x0a\x02\x08\x01" }
events { seq: 2 source: "events" time_ms: 1763892611124 type: "SignupConfirmed" payload: "\x0a\x04\x08\x01\x10\x07" }
head_seq: 9
T
enc ReplayPage "$here/corpus/replay_page/seed-empty-page" <<'T'
head_seq: 0
T
# 2 KiB of empty Event sub-messages: cheap on the wire, costly to decode.
i=0; : >"$here/corpus/replay_page/seed-empty-events"
while [ $i -lt 1024 ]; do printf '\012\000'; i=$((i + 1)); done \
    >"$here/corpus/replay_page/seed-empty-events"
printf '\012\003\042\001\000' >"$here/corpus/replay_page/seed-bad-nested-nul"
printf '\012\002\042\005' >"$here/corpus/replay_page/seed-bad-nested-length"

# ---- text (first byte: bit 0 = multiline) -----------------------------------------------
t() { printf "$2" >"$here/corpus/text/seed-$1"; }
t ascii '\000Matti Meikäläinen'
t email '\000matti.meikalainen@seinajoki.fi'
t phone '\000+358 40 123 4567'
t multiline '\001Rivi yksi\nRivi kaksi\tsarake'
t emoji '\000\360\237\230\200 \342\202\254 \303\245'
t overlong '\000\300\200'
t overlong3 '\000\340\200\200'
t surrogate '\000\355\240\200'
t above-max '\000\364\220\200\200'
t truncated '\000abc\342\202'
t nul '\000a\000b'
t cr '\001a\r\nb'
t c1 '\000\302\205'
t del '\000a\177'
t u2028 '\000a\342\200\250b'
t header-injection '\000a@b.fi\r\nBcc: x'
t two-at '\000x@@y.fi'
echo "corpus written under $here/corpus"
