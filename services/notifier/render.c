/*  notifier/render.c: templates (fi, sv, en), the RFC 5322 e-mail, the iCalendar attachment,
 *  the SMS body and the Message-ID.
 *
 *  Header safety: every header value that comes from outside (the recipient's name, the event
 *  title in the subject) is written as RFC 2047 encoded-words (base64), so no byte of it can
 *  end a header line; addresses are checked with kp_text_email_valid before use. Text parts
 *  are UTF-8, 8bit, with CRLF line ends, or base64 when a line is longer than a message may
 *  carry (998 bytes); the SMTP dot-stuffing of lines that start with '.' is done by libcurl's
 *  SMTP upload. A piece of text is never cut inside a UTF-8 character. The iCalendar part
 *  escapes text per RFC 5545, folds lines at 75 octets without splitting a UTF-8 sequence, and
 *  has no ORGANIZER property. */
#include "kp_err.h"
#include "kp_link.h"
#include "kp_privacy.h"
#include "kp_text.h"
#include "kp_time.h"
#include "notifier.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MK(x) KUMPPANI__V1__MESSAGE_KIND__MESSAGE_KIND_##x
#define CH(x) KUMPPANI__V1__NOTIFICATION_CHANNEL__CHANNEL_##x

/* ---- a growing string in an arena ------------------------------------------------------- */

/* The longest piece s_putf writes. The values a piece holds come from checked fields (the
 * longest, a reason, is at most 1000 characters: 4000 bytes of UTF-8), so nothing real comes
 * near it; it only bounds what a bug could ask of the arena. */
#define S_PIECE_MAX (16 * 1024)

/* The length of the longest prefix of the UTF-8 text s[0..len) that does not end inside a
 * character: len, or the start of a last character that lost some of its bytes. */
static size_t
s_utf8_whole(const char *s, size_t len)
{
    size_t i = len;
    while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
        i--; /* s[i - 1] starts the last character */
    if (i == 0)
        return 0;
    unsigned char c = (unsigned char)s[i - 1];
    size_t need = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
    return len - (i - 1) >= need ? len : i - 1;
}

/* printf into b. A piece longer than the stack buffer is formatted again in the arena, whole
 * up to S_PIECE_MAX bytes; beyond that it is cut at a character boundary, so that a message
 * never carries half a character. When the arena refuses room, b is marked out of memory, as
 * its own puts do. */
static void __attribute__((format(printf, 2, 3))) s_putf(kp_arena_str_t *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap, again;
    va_start(ap, fmt);
    va_copy(again, ap);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    const char *s = tmp;
    size_t len = n > 0 ? (size_t)n : 0;
    if (len >= sizeof tmp) {
        size_t room = len < S_PIECE_MAX ? len + 1 : S_PIECE_MAX;
        char *big = kp_arena_alloc(b->a, room);
        if (!big) {
            b->oom = true;
            len = 0;
        } else {
            vsnprintf(big, room, fmt, again);
            s = big;
            if (len >= room)
                len = s_utf8_whole(big, room - 1);
        }
    }
    va_end(again);
    if (len)
        kp_arena_str_put(b, s, len);
}

/* ---- templates -------------------------------------------------------------------------- */

typedef struct {
    const char *subject, *body;
} s_tmpl_t;

/* [kind][fi, sv, en]. Placeholders: {name} {title} {when} {deadline} {request} {days}
 * {events} {municipality}, and whole lines that are left out when they have nothing to say:
 * {place_line} (the place, or the online link), {reason_line} (the coordinator's reason of a
 * cancel or reschedule), {link_line} (the person's own page), {offer_line} (how to answer a
 * waitlist offer, and by when, in Helsinki time), {answer} (how an expert answers an offer),
 * {terms} (an offer's duration, fee and travel costs), {expert_line} (the expert confirmed to
 * a requester). The title stands alone on a line so that the body shows it plainly. */
static const s_tmpl_t s_tmpl[][3] = {
    [MK(SIGNUP_CONFIRMED)] =
        {{"Ilmoittautuminen vahvistettu: {title}",
          "Hei {name},\n\nilmoittautumisesi on vahvistettu tapahtumaan\n{title}\n\nAika: "
          "{when}\n{place_line}{link_line}\nTervetuloa!\n"},
         {"Anmälan bekräftad: {title}",
          "Hej {name},\n\ndin anmälan är bekräftad till evenemanget\n{title}\n\nTid: "
          "{when}\n{place_line}{link_line}\nVälkommen!\n"},
         {"Sign-up confirmed: {title}",
          "Hello {name},\n\nyour sign-up is confirmed for\n{title}\n\nWhen: {when}\n"
          "{place_line}{link_line}\nWelcome!\n"}},
    [MK(REMINDER)] =
        {{"Muistutus: {title}",
          "Hei {name},\n\nmuistutus tapahtumasta\n{title}\n\nAika: {when}\n{place_line}"
          "{link_line}\nNähdään!\n"},
         {"Påminnelse: {title}",
          "Hej {name},\n\npåminnelse om evenemanget\n{title}\n\nTid: {when}\n{place_line}"
          "{link_line}\nVi ses!\n"},
         {"Reminder: {title}",
          "Hello {name},\n\na reminder of\n{title}\n\nWhen: {when}\n{place_line}{link_line}\n"
          "See you there!\n"}},
    [MK(SEE_YOU_SOON)] =
        {{"Nähdään pian: {title}", "Hei {name},\n\nilmoittautumisesi on vahvistettu, ja tapahtuma "
                                   "on pian:\n{title}\n\nAika: "
                                   "{when}\n{place_line}{link_line}\nNähdään pian!\n"},
         {"Vi ses snart: {title}",
          "Hej {name},\n\ndin anmälan är bekräftad och evenemanget är snart:\n{title}\n\nTid: "
          "{when}\n{place_line}{link_line}\nVi ses snart!\n"},
         {"See you soon: {title}",
          "Hello {name},\n\nyour sign-up is confirmed and the event is soon:\n{title}\n\nWhen: "
          "{when}\n{place_line}{link_line}\nSee you soon!\n"}},
    [MK(WAITLISTED)] =
        {{"Jonotuslistalla: {title}",
          "Hei {name},\n\ntapahtuma on täynnä, ja olet jonotuslistalla:\n{title}\n\nAika: "
          "{when}\n{link_line}\nKerromme, jos paikka vapautuu.\n"},
         {"På väntelistan: {title}",
          "Hej {name},\n\nevenemanget är fullt och du står på väntelistan:\n{title}\n\nTid: "
          "{when}\n{link_line}\nVi meddelar dig om en plats blir ledig.\n"},
         {"On the waiting list: {title}",
          "Hello {name},\n\nthe event is full and you are on the waiting list:\n{title}\n\nWhen: "
          "{when}\n{link_line}\nWe will tell you if a place frees up.\n"}},
    [MK(PROMOTED)] =
        {{"Paikka vapautui: {title}",
          "Hei {name},\n\nsait paikan jonotuslistalta tapahtumaan\n{title}\n\nAika: "
          "{when}\n{place_line}{link_line}\nTervetuloa!\n"},
         {"En plats blev ledig: {title}",
          "Hej {name},\n\ndu fick en plats från väntelistan till\n{title}\n\nTid: {when}\n"
          "{place_line}{link_line}\nVälkommen!\n"},
         {"A place for you: {title}",
          "Hello {name},\n\nyou have a place from the waiting list at\n{title}\n\nWhen: "
          "{when}\n{place_line}{link_line}\nWelcome!\n"}},
    [MK(SIGNUP_CANCELLED)] =
        {{"Ilmoittautuminen peruttu: {title}",
          "Hei {name},\n\nilmoittautumisesi on peruttu:\n{title}\n\nAika: {when}\n"},
         {"Anmälan avbokad: {title}",
          "Hej {name},\n\ndin anmälan är avbokad:\n{title}\n\nTid: {when}\n"},
         {"Sign-up cancelled: {title}",
          "Hello {name},\n\nyour sign-up is cancelled:\n{title}\n\nWhen: {when}\n"}},
    [MK(EVENT_RESCHEDULED)] =
        {{"Uusi aika: {title}",
          "Hei {name},\n\ntapahtuman aika on muuttunut:\n{title}\n\nUusi aika: {when}\n"
          "{place_line}{reason_line}{link_line}"},
         {"Ny tid: {title}",
          "Hej {name},\n\nevenemangets tid har ändrats:\n{title}\n\nNy tid: {when}\n"
          "{place_line}{reason_line}{link_line}"},
         {"New time: {title}",
          "Hello {name},\n\nthe time of the event has changed:\n{title}\n\nNew time: "
          "{when}\n{place_line}{reason_line}{link_line}"}},
    [MK(EVENT_CANCELLED)] =
        {{"Peruttu: {title}",
          "Hei {name},\n\ntapahtuma on valitettavasti peruttu:\n{title}\n\nAika oli: {when}\n"
          "{reason_line}"},
         {"Inställt: {title}",
          "Hej {name},\n\nevenemanget är tyvärr inställt:\n{title}\n\nTiden var: {when}\n"
          "{reason_line}"},
         {"Cancelled: {title}",
          "Hello {name},\n\nunfortunately the event is cancelled:\n{title}\n\nIt was to be: "
          "{when}\n{reason_line}"}},
    [MK(OFFERED)] =
        {{"Paikka tarjolla: {title}",
          "Hei {name},\n\ntapahtumasta vapautui paikka sinulle:\n{title}\n\nAika: {when}\n"
          "{place_line}\n{offer_line}"},
         {"En plats erbjuds: {title}",
          "Hej {name},\n\nen plats har blivit ledig för dig:\n{title}\n\nTid: {when}\n"
          "{place_line}\n{offer_line}"},
         {"A place is offered: {title}",
          "Hello {name},\n\na place has freed up for you:\n{title}\n\nWhen: {when}\n"
          "{place_line}\n{offer_line}"}},
    [MK(EXPERT_OFFER)] =
        {{"Tehtävätarjous: {title}",
          "Hei {name},\n\nsinulle tarjotaan kokemusasiantuntijan tehtävää:\n{title}\n\nAika: "
          "{when}\n{place_line}{terms}\nVastaa viimeistään {deadline}.\n{answer}\n"},
         {"Uppdragserbjudande: {title}",
          "Hej {name},\n\ndu erbjuds ett uppdrag som erfarenhetsexpert:\n{title}\n\nTid: "
          "{when}\n{place_line}{terms}\nSvara senast {deadline}.\n{answer}\n"},
         {"Assignment offer: {title}",
          "Hello {name},\n\nyou are offered an assignment as an expert by experience:\n{title}"
          "\n\nWhen: {when}\n{place_line}{terms}\nPlease answer by {deadline}.\n{answer}\n"}},
    [MK(EXPERT_DEADLINE)] =
        {{"Vastausaika päättymässä: {title}",
          "Hei {name},\n\ntehtävätarjouksen vastausaika päättyy pian:\n{title}\n\n"
          "Vastaa viimeistään {deadline}.\n{answer}\n"},
         {"Svarstiden går snart ut: {title}",
          "Hej {name},\n\nsvarstiden för uppdragserbjudandet går snart ut:\n{title}\n\n"
          "Svara senast {deadline}.\n{answer}\n"},
         {"Your answer is due soon: {title}",
          "Hello {name},\n\nthe time to answer the assignment offer ends soon:\n{title}\n\n"
          "Please answer by {deadline}.\n{answer}\n"}},
    [MK(EXPERT_CONFIRMED)] =
        {{"Tehtävä vahvistettu: {title}",
          "Hei {name},\n\ntehtäväsi on vahvistettu:\n{title}\n\nAika: {when}\n{place_line}"
          "{terms}{link_line}\nKiitos!\n"},
         {"Uppdraget bekräftat: {title}",
          "Hej {name},\n\nditt uppdrag är bekräftat:\n{title}\n\nTid: {when}\n{place_line}"
          "{terms}{link_line}\nTack!\n"},
         {"Assignment confirmed: {title}",
          "Hello {name},\n\nyour assignment is confirmed:\n{title}\n\nWhen: {when}\n"
          "{place_line}{terms}{link_line}\nThank you!\n"}},
    [MK(EXPERT_WITHDRAWN)] =
        {{"Tarjous peruttu: {title}",
          "Hei {name},\n\ntehtävätarjous on peruttu, eikä siihen tarvitse enää vastata:\n"
          "{title}\n\nAika: {when}\n"},
         {"Erbjudandet återkallat: {title}",
          "Hej {name},\n\nuppdragserbjudandet är återkallat och behöver inte längre "
          "besvaras:\n{title}\n\nTid: {when}\n"},
         {"Offer withdrawn: {title}",
          "Hello {name},\n\nthe assignment offer is withdrawn; no answer is needed:\n{title}"
          "\n\nWhen: {when}\n"}},
    [MK(EXPERT_CANCELLED)] =
        {{"Tehtävä peruttu: {title}",
          "Hei {name},\n\nvahvistettu tehtäväsi on peruttu:\n{title}\n\nAika oli: {when}\n\n"
          "Kysymykset koordinaattorille.\n"},
         {"Uppdraget inställt: {title}",
          "Hej {name},\n\nditt bekräftade uppdrag är inställt:\n{title}\n\nTiden var: {when}\n\n"
          "Frågor till koordinatorn.\n"},
         {"Assignment cancelled: {title}",
          "Hello {name},\n\nyour confirmed assignment is cancelled:\n{title}\n\nIt was to be: "
          "{when}\n\nQuestions to the coordinator.\n"}},
    [MK(REQUEST_UNFILLED)] =
        {{"Pyyntö jäi täyttämättä: {title}",
          "Pyyntöön {request} ei löytynyt tarpeeksi kokemusasiantuntijoita:\n{title}\n\nAika: "
          "{when}\n\nKatso: kumppani broker explain {request}\n"},
         {"Begäran blev ofylld: {title}",
          "Begäran {request} fick inte tillräckligt många erfarenhetsexperter:\n{title}\n\n"
          "Tid: {when}\n\nSe: kumppani broker explain {request}\n"},
         {"Request unfilled: {title}",
          "Request {request} did not get enough experts by experience:\n{title}\n\nWhen: "
          "{when}\n\nSee: kumppani broker explain {request}\n"}},
    [MK(DIGEST)] = {{"Tulevat tapahtumat: {municipality}",
                     "Hei {name},\n\ntulevat tapahtumat ({municipality}) seuraavien {days} "
                     "päivän aikana:\n\n{events}\nTämä on viikoittainen kooste kunnan "
                     "järjestöyhdyshenkilöille.\n"},
                    {"Kommande evenemang: {municipality}",
                     "Hej {name},\n\nkommande evenemang ({municipality}) under de "
                     "närmaste {days} dagarna:\n\n{events}\nDetta är en veckosammanfattning "
                     "för kommunens kontaktpersoner för organisationer.\n"},
                    {"Coming events: {municipality}",
                     "Hello {name},\n\nthe coming events ({municipality}) in the "
                     "next {days} days:\n\n{events}\nThis is the weekly digest for the "
                     "municipality's NGO contact persons.\n"}},
    [MK(REQUEST_FILED)] =
        {{"Pyyntö vastaanotettu: {title}",
          "Hei {name},\n\npyyntösi kokemusasiantuntijasta on vastaanotettu (pyyntö "
          "{request}):\n{title}\n\nAika: {when}\n{place_line}\nKerromme, kun asiantuntija on "
          "vahvistettu.\n{link_line}"},
         {"Begäran mottagen: {title}",
          "Hej {name},\n\ndin begäran om en erfarenhetsexpert är mottagen (begäran "
          "{request}):\n{title}\n\nTid: {when}\n{place_line}\nVi meddelar när en expert är "
          "bekräftad.\n{link_line}"},
         {"Request received: {title}",
          "Hello {name},\n\nyour request for an expert by experience is received (request "
          "{request}):\n{title}\n\nWhen: {when}\n{place_line}\nWe will tell you when an expert "
          "is confirmed.\n{link_line}"}},
    [MK(REQUEST_CONFIRMED)] =
        {{"Asiantuntija vahvistettu: {title}",
          "Hei {name},\n\npyyntöösi {request} on vahvistettu kokemusasiantuntija:\n{title}\n\n"
          "Aika: {when}\n{place_line}{expert_line}{link_line}"},
         {"Expert bekräftad: {title}",
          "Hej {name},\n\nen erfarenhetsexpert är bekräftad för din begäran {request}:\n"
          "{title}\n\nTid: {when}\n{place_line}{expert_line}{link_line}"},
         {"Expert confirmed: {title}",
          "Hello {name},\n\nan expert by experience is confirmed for your request {request}:\n"
          "{title}\n\nWhen: {when}\n{place_line}{expert_line}{link_line}"}},
    [MK(REQUESTER_UNFILLED)] =
        {{"Pyyntöä ei voitu täyttää: {title}",
          "Hei {name},\n\npyyntöösi {request} ei valitettavasti löytynyt tarpeeksi "
          "kokemusasiantuntijoita:\n{title}\n\nAika: {when}\n\nKoordinaattori on saanut "
          "tiedon ja voi ottaa sinuun yhteyttä.\n{link_line}"},
         {"Begäran kunde inte fyllas: {title}",
          "Hej {name},\n\ndin begäran {request} fick tyvärr inte tillräckligt många "
          "erfarenhetsexperter:\n{title}\n\nTid: {when}\n\nKoordinatorn har informerats och kan "
          "kontakta dig.\n{link_line}"},
         {"Request could not be filled: {title}",
          "Hello {name},\n\nunfortunately your request {request} did not get enough experts "
          "by experience:\n{title}\n\nWhen: {when}\n\nThe coordinator knows and may contact "
          "you.\n{link_line}"}},
    [MK(REQUEST_CANCELLED)] =
        {{"Pyyntö peruttu: {title}",
          "Hei {name},\n\npyyntösi {request} on peruttu:\n{title}\n\nAika oli: {when}\n"
          "{link_line}"},
         {"Begäran inställd: {title}",
          "Hej {name},\n\ndin begäran {request} är inställd:\n{title}\n\nTiden var: {when}\n"
          "{link_line}"},
         {"Request cancelled: {title}",
          "Hello {name},\n\nyour request {request} is cancelled:\n{title}\n\nIt was to be: "
          "{when}\n{link_line}"}},
    [MK(REQUEST_EXPERT_CANCELLED)] =
        {{"Asiantuntijan tehtävä peruttu: {title}",
          "Hei {name},\n\npyyntöösi {request} vahvistetun kokemusasiantuntijan tehtävä on "
          "peruttu:\n{title}\n\nAika: {when}\n\nKoordinaattori on saanut tiedon ja voi ottaa "
          "sinuun yhteyttä.\n{link_line}"},
         {"Expertens uppdrag inställt: {title}",
          "Hej {name},\n\nuppdraget för erfarenhetsexperten som bekräftats för din begäran "
          "{request} är inställt:\n{title}\n\nTid: {when}\n\nKoordinatorn har informerats och "
          "kan kontakta dig.\n{link_line}"},
         {"Expert's assignment cancelled: {title}",
          "Hello {name},\n\nthe assignment of an expert by experience confirmed for your request "
          "{request} is cancelled:\n{title}\n\nWhen: {when}\n\nThe coordinator knows and may "
          "contact you.\n{link_line}"}},
};

static int
s_lang(const char *l)
{
    if (l && strcmp(l, "sv") == 0)
        return 1;
    if (l && strcmp(l, "en") == 0)
        return 2;
    return 0;
}

/* ---- the operator's template files (templates-dir) ---------------------------------------
 *
 * <dir>/<kind>.<lang>.txt, e.g. signup-confirmed.fi.txt: a first line "Subject: ...", an empty
 * line, then the body. A file that is not there keeps the built-in text above. Every {word}
 * must be a known placeholder: an unknown one (a typo) refuses the whole set, so that no
 * message goes out with a hole in it. */

#define S_KINDS ((int)(sizeof s_tmpl / sizeof s_tmpl[0]))

static const char *const s_kind_names[] = {
    [MK(SIGNUP_CONFIRMED)] = "signup-confirmed",
    [MK(REMINDER)] = "reminder",
    [MK(SEE_YOU_SOON)] = "see-you-soon",
    [MK(WAITLISTED)] = "waitlisted",
    [MK(PROMOTED)] = "promoted",
    [MK(SIGNUP_CANCELLED)] = "signup-cancelled",
    [MK(EVENT_RESCHEDULED)] = "event-rescheduled",
    [MK(EVENT_CANCELLED)] = "event-cancelled",
    [MK(OFFERED)] = "offered",
    [MK(EXPERT_OFFER)] = "expert-offer",
    [MK(EXPERT_DEADLINE)] = "expert-deadline",
    [MK(EXPERT_CONFIRMED)] = "expert-confirmed",
    [MK(EXPERT_WITHDRAWN)] = "expert-withdrawn",
    [MK(REQUEST_UNFILLED)] = "request-unfilled",
    [MK(DIGEST)] = "digest",
    [MK(EXPERT_CANCELLED)] = "expert-cancelled",
    [MK(REQUEST_FILED)] = "request-filed",
    [MK(REQUEST_CONFIRMED)] = "request-confirmed",
    [MK(REQUESTER_UNFILLED)] = "requester-unfilled",
    [MK(REQUEST_CANCELLED)] = "request-cancelled",
    [MK(REQUEST_EXPERT_CANCELLED)] = "request-expert-cancelled",
};
static const char *const s_lang_names[3] = {"fi", "sv", "en"};
static const char *const s_placeholders[] = {
    "name",   "title",        "when",        "deadline",    "request",   "days",
    "events", "municipality", "place_line",  "reason_line", "link_line", "offer_line",
    "answer", "terms",        "expert_line", NULL};

struct ntf_texts {
    char *subject[sizeof s_tmpl / sizeof s_tmpl[0]][3], *body[sizeof s_tmpl / sizeof s_tmpl[0]][3];
    unsigned files;
};

const char *
ntf_texts_kind_name(int kind)
{
    return kind > 0 && kind < S_KINDS && s_tmpl[kind][0].subject ? s_kind_names[kind] : NULL;
}

int
ntf_texts_builtin(int kind, int lang, const char **subject, const char **body)
{
    if (!ntf_texts_kind_name(kind) || lang < 0 || lang > 2)
        return -1;
    *subject = s_tmpl[kind][lang].subject;
    *body = s_tmpl[kind][lang].body;
    return 0;
}

void
ntf_texts_free(ntf_texts_t **tp)
{
    ntf_texts_t *t = *tp;
    if (!t)
        return;
    for (int k = 0; k < S_KINDS; k++)
        for (int l = 0; l < 3; l++) {
            free(t->subject[k][l]);
            free(t->body[k][l]);
        }
    free(t);
    *tp = NULL;
}

/* Checks every {word} of s against the placeholders; names the first unknown one in err. */
static bool
s_placeholders_ok(const char *s, char *err, size_t errlen, const char *file)
{
    for (const char *p = strchr(s, '{'); p; p = strchr(p + 1, '{')) {
        size_t n = 0;
        while ((p[1 + n] >= 'a' && p[1 + n] <= 'z') || p[1 + n] == '_')
            n++;
        if (n == 0 || p[1 + n] != '}')
            continue; /* a brace of the text itself */
        bool known = false;
        for (int i = 0; s_placeholders[i] && !known; i++)
            known = strlen(s_placeholders[i]) == n && strncmp(p + 1, s_placeholders[i], n) == 0;
        if (!known) {
            snprintf(err, errlen, "%s: unknown placeholder {%.*s}", file, (int)n, p + 1);
            return false;
        }
    }
    return true;
}

/* Reads one file into *subject and *body (heap). Returns 0, 1 (no such file) or -1 (err). */
static int
s_texts_file(const char *path, const char *name, char **subject, char **body, char *err,
             size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT)
            return 1;
        snprintf(err, errlen, "%s: cannot be read", name);
        return -1;
    }
    char buf[16385];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    bool big = !feof(f);
    fclose(f);
    buf[n] = 0;
    const char *nl = strchr(buf, '\n');
    if (big || memchr(buf, 0, n) || strncmp(buf, "Subject: ", 9) != 0 || !nl ||
        (nl[1] != '\n' && !(nl[1] == '\r' && nl[2] == '\n'))) {
        snprintf(err, errlen,
                 "%s: a first line 'Subject: ...', an empty line, then the body (at most 16 KiB "
                 "of text)",
                 name);
        return -1;
    }
    size_t sl = (size_t)(nl - buf) - 9;
    if (sl && buf[9 + sl - 1] == '\r')
        sl--;
    *subject = kp_xcalloc(1, sl + 1);
    memcpy(*subject, buf + 9, sl);
    const char *b = nl + (nl[1] == '\r' ? 3 : 2);
    *body = kp_xcalloc(1, strlen(b) + 1);
    size_t bl = 0;
    for (const char *q = b; *q; q++) /* LF line ends inside; CRLF is made when sending */
        if (*q != '\r')
            (*body)[bl++] = *q;
    if (kp_text_check(*subject, strlen(*subject), false) != KP_TEXT_OK ||
        kp_text_check(*body, strlen(*body), true) != KP_TEXT_OK) {
        snprintf(err, errlen, "%s: UTF-8 text, the subject on one line", name);
        return -1;
    }
    if (!s_placeholders_ok(*subject, err, errlen, name) ||
        !s_placeholders_ok(*body, err, errlen, name))
        return -1;
    return 0;
}

int
ntf_texts_load(const char *dir, ntf_texts_t **out, char *err, size_t errlen)
{
    *out = NULL;
    ntf_texts_t *t = kp_xcalloc(1, sizeof *t);
    for (int k = 1; k < S_KINDS; k++) {
        if (!ntf_texts_kind_name(k))
            continue;
        for (int l = 0; l < 3; l++) {
            char path[4096], name[64];
            snprintf(name, sizeof name, "%s.%s.txt", s_kind_names[k], s_lang_names[l]);
            snprintf(path, sizeof path, "%s/%s", dir, name);
            int rc = s_texts_file(path, name, &t->subject[k][l], &t->body[k][l], err, errlen);
            if (rc < 0) {
                ntf_texts_free(&t);
                return KP_ECONFIG;
            }
            if (rc == 0)
                t->files++;
        }
    }
    if (t->files == 0) {
        snprintf(err, errlen, "%s: no template file (<kind>.<fi|sv|en>.txt)", dir);
        ntf_texts_free(&t);
        return KP_ECONFIG;
    }
    *out = t;
    return 0;
}

unsigned
ntf_texts_files(const ntf_texts_t *t)
{
    return t ? t->files : 0;
}

static void
s_when(char *buf, size_t len, int64_t start_unix, int lang)
{
    if (!start_unix) {
        snprintf(buf, len, "-");
        return;
    }
    struct tm tm;
    if (kp_time_local(start_unix, &tm) != 0) {
        snprintf(buf, len, "-");
        return;
    }
    if (lang == 2)
        strftime(buf, len, "%Y-%m-%d %H:%M (Helsinki)", &tm);
    else
        snprintf(buf, len, "%d.%d.%d %s %02d.%02d", tm.tm_mday, tm.tm_mon + 1, tm.tm_year + 1900,
                 lang == 1 ? "kl." : "klo", tm.tm_hour, tm.tm_min);
}

/* The person's link for r (its purpose by kind), or "" without a web-url or for a kind that
 * has none. A sign-up's link lasts link-days after the event's end; an expert's offer link
 * until the offer's deadline; a requester's 180 days or, for a later event, link-days after
 * it. The token is made here, for this message only: never stored or logged. */
static const char *
s_link(kp_arena_t *a, const ntf_conf_t *cf, const ntf_rec_t *r)
{
    if (!cf || !cf->web_url[0] || !cf->have_link)
        return "";
    kp_link_t l = {0};
    int64_t end =
        r->event_end_unix > r->event_start_unix ? r->event_end_unix : r->event_start_unix + 3600;
    switch (r->kind) {
    case MK(SIGNUP_CONFIRMED):
    case MK(REMINDER):
    case MK(SEE_YOU_SOON):
    case MK(WAITLISTED):
    case MK(PROMOTED):
    case MK(EVENT_RESCHEDULED):
    case MK(OFFERED):
        if (!r->signup_id)
            return "";
        l = (kp_link_t){KP_LINK_SIGNUP, r->signup_id, r->event_id, end + cf->link_days_s};
        break;
    case MK(EXPERT_OFFER):
    case MK(EXPERT_DEADLINE):
        if (!r->offer_id)
            return "";
        l = (kp_link_t){KP_LINK_EXPERT_OFFER, r->offer_id, r->request_id,
                        r->deadline_ms ? r->deadline_ms / 1000 : r->created_ms / 1000 + 7 * 86400};
        break;
    case MK(EXPERT_CONFIRMED): /* the offer's page shows the assignment it became */
        if (!r->offer_id)
            return "";
        l = (kp_link_t){KP_LINK_EXPERT_OFFER, r->offer_id, r->request_id, end + cf->link_days_s};
        break;
    case MK(REQUEST_FILED):
    case MK(REQUEST_CONFIRMED):
    case MK(REQUESTER_UNFILLED):
    case MK(REQUEST_CANCELLED):
    case MK(REQUEST_EXPERT_CANCELLED): {
        if (!r->request_id)
            return "";
        int64_t exp = r->created_ms / 1000 + 180 * 86400;
        if (end + cf->link_days_s > exp)
            exp = end + cf->link_days_s;
        l = (kp_link_t){KP_LINK_REQUEST, r->request_id, 0, exp};
        break;
    }
    default:
        return "";
    }
    char *out = kp_arena_alloc(a, sizeof cf->web_url + KP_LINK_TOKEN_MAX + 8);
    if (!out || kp_link_url(cf->link_key, &l, cf->web_url, out,
                            (unsigned)(sizeof cf->web_url + KP_LINK_TOKEN_MAX + 8)) != 0)
        return "";
    return out;
}

/* How an expert answers an offer: the personal link (accept or decline there), or without a
 * web-url the coordinator's contact and the command; with both, the coordinator too. */
static void
s_answer(char *buf, size_t len, const ntf_rec_t *r, const ntf_conf_t *cf, int lang,
         const char *link)
{
    static const char *const how[3] = {"Vastaa koordinaattorille", "Svara koordinatorn",
                                       "Answer the coordinator"};
    static const char *const or_[3] = {"tai komennolla", "eller med kommandot",
                                       "or with the command"};
    static const char *const at[3] = {
        "Ota tehtävä vastaan tai kieltäydy tästä henkilökohtaisesta linkistä:",
        "Ta emot eller tacka nej till uppdraget med denna personliga länk:",
        "Accept or decline the assignment with this personal link:"};
    static const char *const q[3] = {"Kysymykset koordinaattorille", "Frågor till koordinatorn",
                                     "Questions to the coordinator"};
    unsigned long long o = (unsigned long long)r->offer_id;
    bool coord = cf && cf->coordinator_email && cf->coordinator_email[0];
    if (link[0] && coord)
        snprintf(buf, len, "%s\n%s\n\n%s: %s", at[lang], link, q[lang], cf->coordinator_email);
    else if (link[0])
        snprintf(buf, len, "%s\n%s", at[lang], link);
    else if (coord)
        snprintf(buf, len, "%s (%s) %s\nkumppani broker offer-accept %llu / offer-decline %llu",
                 how[lang], cf->coordinator_email, or_[lang], o, o);
    else
        snprintf(buf, len, "kumppani broker offer-accept %llu / offer-decline %llu", o, o);
}

/* Euro cents as "50,00 €" (fi, sv) or "€50.00" (en). */
static void
s_money(char *buf, size_t len, uint32_t cents, int lang)
{
    if (lang == 2)
        snprintf(buf, len, "€%u.%02u", cents / 100, cents % 100);
    else
        snprintf(buf, len, "%u,%02u €", cents / 100, cents % 100);
}

/* The lines of a placeholder that stands for whole lines ("" when there is nothing to say). */
static char *
s_lines(kp_arena_t *a, const char *which, const ntf_rec_t *r, const ntf_conf_t *cf, int lang,
        const char *link, const char *deadline)
{
    kp_arena_str_t b = {.a = a};
    if (!strcmp(which, "place_line")) {
        static const char *const pl[3] = {"Paikka", "Plats", "Where"};
        static const char *const on[3] = {"Etäyhteys", "Distansanslutning", "Online"};
        if (r->event_place && r->event_place[0])
            s_putf(&b, "%s: %s\n", pl[lang], r->event_place);
        if (r->event_url && r->event_url[0])
            s_putf(&b, "%s: %s\n", on[lang], r->event_url);
    } else if (!strcmp(which, "reason_line")) {
        static const char *const re[3] = {"Syy", "Orsak", "Reason"};
        if (r->reason_text && r->reason_text[0])
            s_putf(&b, "\n%s: %s\n", re[lang], r->reason_text);
    } else if (!strcmp(which, "link_line")) {
        static const char *const own[3] = {
            "Omalla sivullasi näet ilmoittautumisesi ja voit perua sen:",
            "På din egen sida ser du din anmälan och kan avboka den:",
            "On your own page you can see your sign-up and cancel it:"};
        static const char *const req[3] = {
            "Seuraa pyyntöäsi omalla sivullasi:", "Följ din begäran på din egen sida:",
            "Follow your request on its own page:"};
        static const char *const asg[3] = {
            "Omalla sivullasi näet tehtäväsi:", "På din egen sida ser du ditt uppdrag:",
            "On your own page you can see your assignment:"};
        static const char *const wl[3] = {
            "Omalla sivullasi näet tilanteesi ja voit poistua jonosta:",
            "På din egen sida ser du din plats och kan lämna väntelistan:",
            "On your own page you can see where you stand and leave the waiting list:"};
        if (link[0]) {
            bool rq = r->kind >= MK(REQUEST_FILED);
            s_putf(&b, "\n%s\n%s\n",
                   rq                                ? req[lang]
                   : r->kind == MK(WAITLISTED)       ? wl[lang]
                   : r->kind == MK(EXPERT_CONFIRMED) ? asg[lang]
                                                     : own[lang],
                   link);
        }
    } else if (!strcmp(which, "offer_line")) {
        static const char *const by[3] = {"Vastaa tarjoukseen viimeistään",
                                          "Svara på erbjudandet senast", "Answer the offer by"};
        static const char *const hel[3] = {"(Suomen aikaa)", "(finsk tid)", ""};
        static const char *const wh[3] = {"Ota paikka vastaan tai kieltäydy omalla sivullasi:",
                                          "Ta emot platsen eller tacka nej på din egen sida:",
                                          "Accept or decline the place on your own page:"};
        static const char *const no[3] = {
            "Vastaa järjestäjälle. Jos et vastaa ajoissa, paikka tarjotaan seuraavalle.",
            "Svara arrangören. Om du inte svarar i tid erbjuds platsen till nästa.",
            ("Answer the organiser. If you do not answer in time, the place goes to the next "
             "one.")};
        if (r->deadline_ms)
            s_putf(&b, "%s %s%s%s.\n", by[lang], deadline, hel[lang][0] ? " " : "", hel[lang]);
        if (link[0])
            s_putf(&b, "%s\n%s\n", wh[lang], link);
        else
            s_putf(&b, "%s\n", no[lang]);
    } else if (!strcmp(which, "terms")) {
        static const char *const du[3] = {"Kesto", "Längd", "Duration"};
        static const char *const fe[3] = {"Palkkio", "Arvode", "Fee"};
        static const char *const tr[3] = {"Matkakulut", "Resekostnader", "Travel costs"};
        char m[32];
        if (r->duration_min) {
            if (r->duration_min % 60 == 0)
                s_putf(&b, "%s: %u h\n", du[lang], r->duration_min / 60);
            else
                s_putf(&b, "%s: %u min\n", du[lang], r->duration_min);
        }
        if (r->fee_cents) {
            s_money(m, sizeof m, r->fee_cents, lang);
            s_putf(&b, "%s: %s\n", fe[lang], m);
        }
        if (r->travel_cents) {
            s_money(m, sizeof m, r->travel_cents, lang);
            s_putf(&b, "%s: %s\n", tr[lang], m);
        }
    } else if (!strcmp(which, "expert_line")) {
        static const char *const ex[3] = {"Asiantuntija", "Expert", "Expert"};
        static const char *const ct[3] = {"Yhteystiedot", "Kontakt", "Contact"};
        if (r->expert_name && r->expert_name[0]) {
            s_putf(&b, "\n%s: %s\n", ex[lang], r->expert_name);
            if (r->expert_contact && r->expert_contact[0])
                s_putf(&b, "%s: %s\n", ct[lang], r->expert_contact);
        }
    }
    (void)cf;
    return kp_arena_str_done(&b);
}

/* A digest's events, a line each: when, title, place, and a mark for a new time. */
static char *
s_digest_list(kp_arena_t *a, const ntf_rec_t *r, int lang)
{
    static const char *const moved[3] = {" (siirretty)", " (flyttat)", " (rescheduled)"};
    kp_arena_str_t b = {.a = a};
    for (size_t i = 0; i < r->n_digest_items; i++) {
        const Kumppani__V1__DigestItem *it = r->digest_items[i];
        char when[64];
        s_when(when, sizeof when, it->start_unix, lang);
        kp_arena_str_puts(&b, "- ");
        kp_arena_str_puts(&b, when);
        kp_arena_str_puts(&b, ": ");
        kp_arena_str_puts(&b, it->title);
        if (it->place[0]) {
            kp_arena_str_puts(&b, ", ");
            kp_arena_str_puts(&b, it->place);
        }
        kp_arena_str_puts(&b, it->rescheduled ? moved[lang] : "");
        kp_arena_str_puts(&b, "\n");
    }
    return kp_arena_str_done(&b);
}

static char *
s_fill(kp_arena_t *a, const char *tmpl, const ntf_rec_t *r, const char *when, const ntf_conf_t *cf,
       int lang, const char *link)
{
    kp_arena_str_t b = {.a = a};
    char deadline[64], request[24], answer[KP_LINK_TOKEN_MAX + 1200], days[16];
    s_when(deadline, sizeof deadline, r->deadline_ms / 1000, lang);
    snprintf(request, sizeof request, "%llu", (unsigned long long)r->request_id);
    snprintf(days, sizeof days, "%u", cf ? cf->digest_days : 0);
    s_answer(answer, sizeof answer, r, cf, lang, link);
    const char *events = r->n_digest_items ? s_digest_list(a, r, lang) : "";
    if (!events)
        return NULL;
    static const char *const lines[] = {"place_line", "reason_line", "link_line", "offer_line",
                                        "terms",      "expert_line", NULL};
    for (const char *p = tmpl; *p;) {
        if (*p == '{') {
            const char *v = NULL;
            size_t skip = 0;
#define PH(name, val)                                                                              \
    if (!v && strncmp(p, "{" name "}", sizeof(name) + 1) == 0) {                                   \
        v = (val);                                                                                 \
        skip = sizeof(name) + 1;                                                                   \
    }
            PH("name", r->recipient_name)
            PH("deadline", deadline)
            PH("request", request)
            PH("answer", answer)
            PH("events", events)
            PH("days", days)
            PH("municipality", r->municipality_name && r->municipality_name[0]
                                   ? r->municipality_name
                                   : r->municipality_code)
            PH("title", r->event_title)
            PH("when", when)
#undef PH
            for (int i = 0; !v && lines[i]; i++) {
                size_t ln = strlen(lines[i]);
                if (strncmp(p + 1, lines[i], ln) == 0 && p[1 + ln] == '}') {
                    v = s_lines(a, lines[i], r, cf, lang, link, deadline);
                    if (!v)
                        return NULL;
                    skip = ln + 2;
                }
            }
            if (v) {
                kp_arena_str_puts(&b, v);
                p += skip;
                continue;
            }
        }
        kp_arena_str_put(&b, p, 1);
        p++;
    }
    return kp_arena_str_done(&b);
}

/* ---- encodings -------------------------------------------------------------------------- */

char *
ntf_render_encoded_word(kp_arena_t *a, const char *s)
{
    kp_arena_str_t b = {.a = a};
    size_t len = strlen(s), i = 0;
    if (len == 0)
        return kp_arena_str_done(&b);
    while (i < len) {
        size_t n = len - i > 45 ? 45 : len - i;
        /* Never split a UTF-8 sequence between two encoded-words (RFC 2047 6.3). */
        while (n > 1 && i + n < len && ((unsigned char)s[i + n] & 0xC0) == 0x80)
            n--;
        char b64[80];
        sodium_bin2base64(b64, sizeof b64, (const unsigned char *)s + i, n,
                          sodium_base64_VARIANT_ORIGINAL);
        if (i)
            kp_arena_str_puts(&b, "\r\n ");
        kp_arena_str_puts(&b, "=?UTF-8?B?");
        kp_arena_str_puts(&b, b64);
        kp_arena_str_puts(&b, "?=");
        i += n;
    }
    return kp_arena_str_done(&b);
}

static void
s_json_str(kp_arena_str_t *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char e[2] = {'\\', (char)*p};
            kp_arena_str_put(b, e, 2);
        } else if (*p < 0x20 || *p == 0x7f) {
            s_putf(b, "\\u%04x", *p);
        } else {
            kp_arena_str_put(b, (const char *)p, 1);
        }
    }
}

char *
ntf_render_sms_body(kp_arena_t *a, const char *tmpl, const char *to, const char *text)
{
    kp_arena_str_t b = {.a = a};
    for (const char *p = tmpl; *p;) {
        if (strncmp(p, "{to}", 4) == 0) {
            /* the number in international form, as gateways take it ("040 123 4567" as
             * typed on a form goes out as "+358401234567") */
            char num[64];
            kp_privacy_phone_norm(to, num, sizeof num);
            s_json_str(&b, num);
            p += 4;
        } else if (strncmp(p, "{text}", 6) == 0) {
            s_json_str(&b, text);
            p += 6;
        } else {
            kp_arena_str_put(&b, p++, 1);
        }
    }
    return kp_arena_str_done(&b);
}

static const char *
s_domain(const char *from)
{
    const char *at = from ? strrchr(from, '@') : NULL;
    if (!at || !at[1])
        return "kumppani.invalid";
    for (const char *p = at + 1; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '.'))
            return "kumppani.invalid";
    return at + 1;
}

char *
ntf_render_message_id(kp_arena_t *a, const char *key, const char *from)
{
    unsigned char h[16];
    char hex[33];
    crypto_generichash(h, sizeof h, (const unsigned char *)key, strlen(key), NULL, 0);
    sodium_bin2hex(hex, sizeof hex, h, sizeof h);
    kp_arena_str_t b = {.a = a};
    s_putf(&b, "<%s.kumppani@%s>", hex, s_domain(from));
    return kp_arena_str_done(&b);
}

/* Text with LF as CRLF (and any stray CR dropped). */
static void
s_put_crlf(kp_arena_str_t *b, const char *s)
{
    for (const char *p = s; *p; p++) {
        if (*p == '\r')
            continue;
        if (*p == '\n')
            kp_arena_str_put(b, "\r\n", 2);
        else
            kp_arena_str_put(b, p, 1);
    }
}

/* RFC 5322 2.1.1: a line of a message is at most 998 bytes before its CRLF (SMTP servers
 * refuse longer ones: aiosmtpd answers "500 Line too long"). */
#define S_LINE_MAX 998

/* True when a line of s (lines end at '\n'; a CR is dropped) is longer than S_LINE_MAX. */
static bool
s_has_long_line(const char *s)
{
    size_t n = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '\n')
            n = 0;
        else if (*p != '\r' && ++n > S_LINE_MAX)
            return true;
    }
    return false;
}

/* s with CRLF line ends (as s_put_crlf) in base64 (RFC 2045 6.8), 76 characters a line: the
 * text part of a message that has a line too long to send as it is, so that it reaches the
 * reader whole. */
static void
s_put_crlf_base64(kp_arena_str_t *b, const char *s)
{
    kp_arena_str_t t = {.a = b->a};
    s_put_crlf(&t, s);
    const char *crlf = kp_arena_str_done(&t);
    if (!crlf) {
        b->oom = true;
        return;
    }
    for (size_t i = 0; i < t.len; i += 57) { /* 57 bytes make one line of 76 characters */
        size_t n = t.len - i < 57 ? t.len - i : 57;
        char line[77];
        sodium_bin2base64(line, sizeof line, (const unsigned char *)crlf + i, n,
                          sodium_base64_VARIANT_ORIGINAL);
        kp_arena_str_puts(b, line);
        kp_arena_str_puts(b, "\r\n");
    }
}

/* ---- iCalendar ---------------------------------------------------------------------------- */

static void
s_ical_line(kp_arena_str_t *b, const char *name, const char *value, bool escape)
{
    kp_arena_str_t l = {.a = b->a};
    kp_arena_str_puts(&l, name);
    kp_arena_str_puts(&l, ":");
    for (const char *p = value ? value : ""; *p; p++) {
        if (escape && (*p == '\\' || *p == ';' || *p == ',')) {
            char e[2] = {'\\', *p};
            kp_arena_str_put(&l, e, 2);
        } else if (escape && *p == '\n') {
            kp_arena_str_puts(&l, "\\n");
        } else if ((unsigned char)*p >= 0x20 && *p != 0x7f) {
            kp_arena_str_put(&l, p, 1);
        }
    }
    const char *s = kp_arena_str_done(&l);
    if (!s) {
        b->oom = true;
        return;
    }
    size_t len = strlen(s), i = 0, width = 75;
    while (i < len) {
        size_t n = len - i > width ? width : len - i;
        while (n > 1 && i + n < len && ((unsigned char)s[i + n] & 0xC0) == 0x80)
            n--;
        if (i)
            kp_arena_str_puts(b, "\r\n ");
        kp_arena_str_put(b, s + i, n);
        i += n;
        width = 74;
    }
    kp_arena_str_puts(b, "\r\n");
}

static void
s_ical_time(char *buf, size_t len, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, len, "%Y%m%dT%H%M%SZ", &tm);
}

static char *
s_ical(kp_arena_t *a, const ntf_rec_t *r, int64_t now_ms, bool cancel)
{
    kp_arena_str_t b = {.a = a};
    char t[32], uid[64], seq[16];
    kp_arena_str_puts(&b, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Kumppani//Notifier//EN\r\n");
    kp_arena_str_puts(&b, cancel ? "METHOD:CANCEL\r\n" : "METHOD:PUBLISH\r\n");
    kp_arena_str_puts(&b, "BEGIN:VEVENT\r\n");
    /* An expert's assignment is its own calendar entry (one per assignment, confirmed then
     * perhaps cancelled: SEQUENCE 0, then 1); an event's follows the event's sequence, the
     * same as the events service's feed. */
    bool asg = r->kind == MK(EXPERT_CONFIRMED) || r->kind == MK(EXPERT_CANCELLED);
    if (asg)
        snprintf(uid, sizeof uid, "assignment-%llu@kumppani",
                 (unsigned long long)(r->assignment_id ? r->assignment_id : r->offer_id));
    else
        snprintf(uid, sizeof uid, "event-%llu@kumppani", (unsigned long long)r->event_id);
    s_ical_line(&b, "UID", uid, false);
    s_ical_time(t, sizeof t, now_ms / 1000);
    s_ical_line(&b, "DTSTAMP", t, false);
    s_ical_time(t, sizeof t, r->event_start_unix);
    s_ical_line(&b, "DTSTART", t, false);
    s_ical_time(t, sizeof t,
                r->event_end_unix > r->event_start_unix ? r->event_end_unix
                                                        : r->event_start_unix + 3600);
    s_ical_line(&b, "DTEND", t, false);
    snprintf(seq, sizeof seq, "%u", asg ? (cancel ? 1u : 0u) : r->event_sequence);
    s_ical_line(&b, "SEQUENCE", seq, false);
    s_ical_line(&b, "SUMMARY", r->event_title, true);
    if (r->event_place && r->event_place[0])
        s_ical_line(&b, "LOCATION", r->event_place, true);
    if (r->event_url && r->event_url[0])
        s_ical_line(&b, "URL", r->event_url, false);
    s_ical_line(&b, "STATUS", cancel ? "CANCELLED" : "CONFIRMED", false);
    kp_arena_str_puts(&b, "END:VEVENT\r\nEND:VCALENDAR\r\n");
    return kp_arena_str_done(&b);
}

/* ---- the message ---------------------------------------------------------------------------- */

int
ntf_render(const ntf_t *n, kp_arena_t *a, const ntf_rec_t *r, int64_t now_ms, ntf_msg_t *out)
{
    memset(out, 0, sizeof *out);
    if (r->channel == CH(WEBHOOK)) {
        out->subject = (char *)"";
        out->text = r->payload_json ? r->payload_json : (char *)"{}";
        out->ical = (char *)"";
        out->message = (char *)"";
        return 0;
    }
    if (r->kind <= 0 || (size_t)r->kind >= sizeof s_tmpl / sizeof s_tmpl[0] ||
        !s_tmpl[r->kind][0].subject)
        return KP_EINVAL;
    int lang = s_lang(r->language);
    char when[64];
    s_when(when, sizeof when, r->event_start_unix, lang);
    s_tmpl_t t_ = s_tmpl[r->kind][lang], *t = &t_;
    const ntf_texts_t *ot = n->conf.texts;
    if (ot && ot->subject[r->kind][lang]) { /* the operator's file */
        t_.subject = ot->subject[r->kind][lang];
        t_.body = ot->body[r->kind][lang];
    }
    const char *link = s_link(a, &n->conf, r);
    out->subject = s_fill(a, t->subject, r, when, &n->conf, lang, link);
    out->text = s_fill(a, t->body, r, when, &n->conf, lang, link);
    if (!out->subject || !out->text)
        return KP_ENOMEM;
    bool cancel = r->kind == MK(EVENT_CANCELLED) || r->kind == MK(SIGNUP_CANCELLED) ||
                  r->kind == MK(EXPERT_CANCELLED);
    bool with_ical =
        r->event_start_unix &&
        ((r->kind < MK(WEBHOOK) && r->kind != MK(WAITLISTED) && r->kind != MK(OFFERED)) ||
         r->kind == MK(EXPERT_CONFIRMED) || r->kind == MK(EXPERT_CANCELLED));
    out->ical = with_ical ? s_ical(a, r, now_ms, cancel) : (char *)"";
    if (!out->ical)
        return KP_ENOMEM;
    if (r->channel == CH(SMS)) {
        kp_arena_str_t b = {.a = a};
        s_putf(&b, "%s, %s", out->subject, when);
        if (r->kind == MK(OFFERED) || r->kind == MK(EXPERT_OFFER) ||
            r->kind == MK(EXPERT_DEADLINE)) {
            char deadline[64];
            s_when(deadline, sizeof deadline, r->deadline_ms / 1000, lang);
            static const char *const by[3] = {"vastaa viimeistään", "svara senast", "answer by"};
            if (r->deadline_ms)
                s_putf(&b, "; %s %s", by[lang], deadline);
        }
        if (link[0]) {
            kp_arena_str_puts(&b, " ");
            kp_arena_str_puts(&b, link);
        }
        out->text = kp_arena_str_done(&b);
        out->message = (char *)"";
        return out->text ? 0 : KP_ENOMEM;
    }
    if (!kp_text_email_valid(r->address) || !kp_text_email_valid(n->conf.smtp_from))
        return KP_EINVAL;
    char *name = ntf_render_encoded_word(a, r->recipient_name ? r->recipient_name : "");
    char *from_name = ntf_render_encoded_word(a, n->conf.smtp_from_name);
    char *subject = ntf_render_encoded_word(a, out->subject);
    char *msgid = ntf_render_message_id(a, r->key, n->conf.smtp_from);
    if (!name || !from_name || !subject || !msgid)
        return KP_ENOMEM;
    unsigned char bh[8];
    char bhex[17], date[64];
    crypto_generichash(bh, sizeof bh, (const unsigned char *)r->key, strlen(r->key), NULL, 0);
    sodium_bin2hex(bhex, sizeof bhex, bh, sizeof bh);
    struct tm tm;
    if (kp_time_local(now_ms / 1000, &tm) != 0 ||
        strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S %z", &tm) == 0)
        return KP_EINVAL;
    kp_arena_str_t b = {.a = a};
    s_putf(&b, "From: %s <%s>\r\n", from_name, n->conf.smtp_from);
    if (name[0])
        s_putf(&b, "To: %s <%s>\r\n", name, r->address);
    else
        s_putf(&b, "To: <%s>\r\n", r->address);
    kp_arena_str_puts(&b, "Subject: ");
    kp_arena_str_puts(&b, subject);
    kp_arena_str_puts(&b, "\r\n");
    s_putf(&b, "Date: %s\r\nMessage-ID: %s\r\n", date, msgid);
    s_putf(&b, "X-Kumppani-Key: %s\r\n", r->key);
    kp_arena_str_puts(&b, "MIME-Version: 1.0\r\nAuto-Submitted: auto-generated\r\n");
    if (r->kind == MK(REMINDER) || r->kind == MK(SEE_YOU_SOON) || r->kind == MK(DIGEST)) {
        /* RFC 2369: the coordinator (or the sender's mailbox) records the opt-out
         * (notifier.optout) */
        const char *to = n->conf.coordinator_email && n->conf.coordinator_email[0]
                             ? n->conf.coordinator_email
                             : n->conf.smtp_from;
        if (kp_text_email_valid(to))
            s_putf(&b, "List-Unsubscribe: <mailto:%s?subject=unsubscribe>\r\n", to);
    }
    s_putf(&b, "Content-Language: %s\r\n", lang == 1 ? "sv" : lang == 2 ? "en" : "fi");
    s_putf(&b, "Content-Type: multipart/mixed; boundary=\"kp-%s\"\r\n\r\n", bhex);
    bool long_line = s_has_long_line(out->text);
    s_putf(&b,
           "--kp-%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
           "Content-Transfer-Encoding: %s\r\n\r\n",
           bhex, long_line ? "base64" : "8bit");
    if (long_line)
        s_put_crlf_base64(&b, out->text);
    else
        s_put_crlf(&b, out->text);
    if (out->ical[0]) {
        s_putf(&b,
               "\r\n--kp-%s\r\nContent-Type: text/calendar; charset=utf-8; method=%s\r\n"
               "Content-Transfer-Encoding: 8bit\r\n"
               "Content-Disposition: attachment; filename=\"event.ics\"\r\n\r\n",
               bhex, cancel ? "CANCEL" : "PUBLISH");
        kp_arena_str_puts(&b, out->ical);
    }
    s_putf(&b, "\r\n--kp-%s--\r\n", bhex);
    out->message = kp_arena_str_done(&b);
    if (!out->message)
        return KP_ENOMEM;
    out->message_len = b.len;
    return 0;
}
