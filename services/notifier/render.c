/*  notifier/render.c: templates (fi, sv, en), the RFC 5322 e-mail, the iCalendar attachment,
 *  the SMS body and the Message-ID.
 *
 *  Header safety: every header value that comes from outside (the recipient's name, the event
 *  title in the subject) is written as RFC 2047 encoded-words (base64), so no byte of it can
 *  end a header line; addresses are checked with kp_text_email_valid before use. Text parts
 *  are UTF-8, 8bit, with CRLF line ends; the SMTP dot-stuffing of lines that start with '.'
 *  is done by libcurl's SMTP upload. The iCalendar part escapes text per RFC 5545, folds lines
 *  at 75 octets without splitting a UTF-8 sequence, and has no ORGANIZER property. */
#include "kp_err.h"
#include "kp_text.h"
#include "kp_time.h"
#include "notifier.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define MK(x) KUMPPANI__V1__MESSAGE_KIND__MESSAGE_KIND_##x
#define CH(x) KUMPPANI__V1__NOTIFICATION_CHANNEL__CHANNEL_##x

/* ---- a growing string in an arena ------------------------------------------------------- */

typedef struct {
    kp_arena_t *a;
    char *p;
    size_t len, cap;
    bool oom;
} s_buf_t;

static void
s_put(s_buf_t *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->cap ? b->cap : 256);
        while (cap < b->len + n + 1)
            cap *= 2;
        char *np = kp_arena_alloc(b->a, cap);
        if (!np) {
            b->oom = true;
            return;
        }
        if (b->len)
            memcpy(np, b->p, b->len);
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void
s_puts(s_buf_t *b, const char *s)
{
    s_put(b, s, strlen(s));
}

static void __attribute__((format(printf, 2, 3))) s_putf(s_buf_t *b, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        s_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static char *
s_done(s_buf_t *b)
{
    if (b->oom)
        return NULL;
    if (!b->p)
        s_put(b, "", 0);
    return b->oom ? NULL : b->p;
}

/* ---- templates -------------------------------------------------------------------------- */

typedef struct {
    const char *subject, *body;
} s_tmpl_t;

/* [kind][fi, sv, en]. Placeholders: {name} {title} {when} {place} {hours}. The title stands
 * alone on a line so that the body shows it plainly. */
static const s_tmpl_t s_tmpl[][3] = {
    [MK(SIGNUP_CONFIRMED)] =
        {{"Ilmoittautuminen vahvistettu: {title}",
          "Hei {name},\n\nilmoittautumisesi on vahvistettu tapahtumaan\n{title}\n\nAika: "
          "{when}\nPaikka: {place}\n\nTervetuloa!\n"},
         {"Anmälan bekräftad: {title}",
          "Hej {name},\n\ndin anmälan är bekräftad till evenemanget\n{title}\n\nTid: "
          "{when}\nPlats: {place}\n\nVälkommen!\n"},
         {"Sign-up confirmed: {title}",
          "Hello {name},\n\nyour sign-up is confirmed for\n{title}\n\nWhen: {when}\nWhere: "
          "{place}\n\nWelcome!\n"}},
    [MK(REMINDER)] =
        {{"Muistutus: {title}",
          "Hei {name},\n\nmuistutus tapahtumasta\n{title}\n\nAika: {when}\nPaikka: "
          "{place}\n\nNähdään!\n"},
         {"Påminnelse: {title}",
          "Hej {name},\n\npåminnelse om evenemanget\n{title}\n\nTid: {when}\nPlats: "
          "{place}\n\nVi ses!\n"},
         {"Reminder: {title}",
          "Hello {name},\n\na reminder of\n{title}\n\nWhen: {when}\nWhere: {place}\n\nSee you "
          "there!\n"}},
    [MK(SEE_YOU_SOON)] =
        {{"Nähdään pian: {title}", "Hei {name},\n\nilmoittautumisesi on vahvistettu, ja tapahtuma "
                                   "on pian:\n{title}\n\nAika: "
                                   "{when}\nPaikka: {place}\n\nNähdään pian!\n"},
         {"Vi ses snart: {title}",
          "Hej {name},\n\ndin anmälan är bekräftad och evenemanget är snart:\n{title}\n\nTid: "
          "{when}\nPlats: {place}\n\nVi ses snart!\n"},
         {"See you soon: {title}",
          "Hello {name},\n\nyour sign-up is confirmed and the event is soon:\n{title}\n\nWhen: "
          "{when}\nWhere: {place}\n\nSee you soon!\n"}},
    [MK(WAITLISTED)] =
        {{"Jonotuslistalla: {title}",
          "Hei {name},\n\ntapahtuma on täynnä, ja olet jonotuslistalla:\n{title}\n\nAika: "
          "{when}\n\nKerromme, jos paikka vapautuu.\n"},
         {"På väntelistan: {title}",
          "Hej {name},\n\nevenemanget är fullt och du står på väntelistan:\n{title}\n\nTid: "
          "{when}\n\nVi meddelar dig om en plats blir ledig.\n"},
         {"On the waiting list: {title}",
          "Hello {name},\n\nthe event is full and you are on the waiting list:\n{title}\n\nWhen: "
          "{when}\n\nWe will tell you if a place frees up.\n"}},
    [MK(PROMOTED)] =
        {{"Paikka vapautui: {title}",
          "Hei {name},\n\nsait paikan jonotuslistalta tapahtumaan\n{title}\n\nAika: "
          "{when}\nPaikka: {place}\n\nTervetuloa!\n"},
         {"En plats blev ledig: {title}",
          "Hej {name},\n\ndu fick en plats från väntelistan till\n{title}\n\nTid: {when}\nPlats: "
          "{place}\n\nVälkommen!\n"},
         {"A place for you: {title}",
          "Hello {name},\n\nyou have a place from the waiting list at\n{title}\n\nWhen: "
          "{when}\nWhere: {place}\n\nWelcome!\n"}},
    [MK(SIGNUP_CANCELLED)] =
        {{"Ilmoittautuminen peruttu: {title}",
          "Hei {name},\n\nilmoittautumisesi on peruttu:\n{title}\n\nAika: {when}\n"},
         {"Anmälan avbokad: {title}",
          "Hej {name},\n\ndin anmälan är avbokad:\n{title}\n\nTid: {when}\n"},
         {"Sign-up cancelled: {title}",
          "Hello {name},\n\nyour sign-up is cancelled:\n{title}\n\nWhen: {when}\n"}},
    [MK(EVENT_RESCHEDULED)] =
        {{"Uusi aika: {title}",
          "Hei {name},\n\ntapahtuman aika on muuttunut:\n{title}\n\nUusi aika: {when}\nPaikka: "
          "{place}\n"},
         {"Ny tid: {title}",
          "Hej {name},\n\nevenemangets tid har ändrats:\n{title}\n\nNy tid: {when}\nPlats: "
          "{place}\n"},
         {"New time: {title}",
          "Hello {name},\n\nthe time of the event has changed:\n{title}\n\nNew time: "
          "{when}\nWhere: {place}\n"}},
    [MK(EVENT_CANCELLED)] =
        {{"Peruttu: {title}",
          "Hei {name},\n\ntapahtuma on valitettavasti peruttu:\n{title}\n\nAika oli: {when}\n"},
         {"Inställt: {title}",
          "Hej {name},\n\nevenemanget är tyvärr inställt:\n{title}\n\nTiden var: {when}\n"},
         {"Cancelled: {title}",
          "Hello {name},\n\nunfortunately the event is cancelled:\n{title}\n\nIt was to be: "
          "{when}\n"}},
    [MK(OFFERED)] =
        {{"Paikka tarjolla: {title}",
          "Hei {name},\n\ntapahtumasta vapautui paikka sinulle:\n{title}\n\nAika: {when}\n\n"
          "Vastaa tarjoukseen ilmoittautumisjärjestelmässä ennen määräaikaa.\n"},
         {"En plats erbjuds: {title}",
          "Hej {name},\n\nen plats har blivit ledig för dig:\n{title}\n\nTid: {when}\n\n"
          "Svara på erbjudandet i anmälningssystemet före tidsfristen.\n"},
         {"A place is offered: {title}",
          "Hello {name},\n\na place has freed up for you:\n{title}\n\nWhen: {when}\n\n"
          "Answer the offer in the sign-up system before the deadline.\n"}},
    [MK(EXPERT_OFFER)] =
        {{"Tehtävätarjous: {title}",
          "Hei {name},\n\nsinulle tarjotaan kokemusasiantuntijan tehtävää:\n{title}\n\nAika: "
          "{when}\nPaikka: {place}\n\nVastaa viimeistään {deadline}.\n{answer}\n"},
         {"Uppdragserbjudande: {title}",
          "Hej {name},\n\ndu erbjuds ett uppdrag som erfarenhetsexpert:\n{title}\n\nTid: "
          "{when}\nPlats: {place}\n\nSvara senast {deadline}.\n{answer}\n"},
         {"Assignment offer: {title}",
          "Hello {name},\n\nyou are offered an assignment as an expert by experience:\n{title}"
          "\n\nWhen: {when}\nWhere: {place}\n\nPlease answer by {deadline}.\n{answer}\n"}},
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
          "Hei {name},\n\ntehtäväsi on vahvistettu:\n{title}\n\nAika: {when}\nPaikka: "
          "{place}\n\nKiitos!\n"},
         {"Uppdraget bekräftat: {title}",
          "Hej {name},\n\nditt uppdrag är bekräftat:\n{title}\n\nTid: {when}\nPlats: "
          "{place}\n\nTack!\n"},
         {"Assignment confirmed: {title}",
          "Hello {name},\n\nyour assignment is confirmed:\n{title}\n\nWhen: {when}\nWhere: "
          "{place}\n\nThank you!\n"}},
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
    [MK(REQUEST_UNFILLED)] =
        {{"Pyyntö jäi täyttämättä: {title}",
          "Pyyntöön {request} ei löytynyt tarpeeksi kokemusasiantuntijoita:\n{title}\n\nAika: "
          "{when}\n\nKatso: kumppani broker request-explain {request}\n"},
         {"Begäran blev ofylld: {title}",
          "Begäran {request} fick inte tillräckligt många erfarenhetsexperter:\n{title}\n\n"
          "Tid: {when}\n\nSe: kumppani broker request-explain {request}\n"},
         {"Request unfilled: {title}",
          "Request {request} did not get enough experts by experience:\n{title}\n\nWhen: "
          "{when}\n\nSee: kumppani broker request-explain {request}\n"}},
    [MK(DIGEST)] = {{"Tulevat tapahtumat, kunta {municipality}",
                     "Hei {name},\n\ntulevat tapahtumat kunnassa {municipality} seuraavien {days} "
                     "päivän aikana:\n\n{events}\nTämä on viikoittainen kooste kunnan "
                     "järjestöyhdyshenkilöille.\n"},
                    {"Kommande evenemang, kommun {municipality}",
                     "Hej {name},\n\nkommande evenemang i kommun {municipality} under de "
                     "närmaste {days} dagarna:\n\n{events}\nDetta är en veckosammanfattning "
                     "för kommunens kontaktpersoner för organisationer.\n"},
                    {"Coming events, municipality {municipality}",
                     "Hello {name},\n\nthe coming events in municipality {municipality} in the "
                     "next {days} days:\n\n{events}\nThis is the weekly digest for the "
                     "municipality's NGO contact persons.\n"}},
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

/* How an expert answers an offer: the coordinator's contact if configured, and the CLI. */
static void
s_answer(char *buf, size_t len, const ntf_rec_t *r, const ntf_conf_t *cf, int lang)
{
    static const char *const how[3] = {"Vastaa koordinaattorille", "Svara koordinatorn",
                                       "Answer the coordinator"};
    static const char *const or_[3] = {"tai komennolla", "eller med kommandot",
                                       "or with the command"};
    unsigned long long o = (unsigned long long)r->offer_id;
    if (cf && cf->coordinator_email && cf->coordinator_email[0])
        snprintf(buf, len, "%s (%s) %s\nkumppani broker offer-accept %llu / offer-decline %llu",
                 how[lang], cf->coordinator_email, or_[lang], o, o);
    else
        snprintf(buf, len, "kumppani broker offer-accept %llu / offer-decline %llu", o, o);
}

/* A digest's events, a line each: when, title, place, and a mark for a new time. */
static char *
s_digest_list(kp_arena_t *a, const ntf_rec_t *r, int lang)
{
    static const char *const moved[3] = {" (siirretty)", " (flyttat)", " (rescheduled)"};
    s_buf_t b = {.a = a};
    for (size_t i = 0; i < r->n_digest_items; i++) {
        const Kumppani__V1__DigestItem *it = r->digest_items[i];
        char when[64];
        s_when(when, sizeof when, it->start_unix, lang);
        s_puts(&b, "- ");
        s_puts(&b, when);
        s_puts(&b, ": ");
        s_puts(&b, it->title);
        if (it->place[0]) {
            s_puts(&b, ", ");
            s_puts(&b, it->place);
        }
        s_puts(&b, it->rescheduled ? moved[lang] : "");
        s_puts(&b, "\n");
    }
    return s_done(&b);
}

static char *
s_fill(kp_arena_t *a, const char *tmpl, const ntf_rec_t *r, const char *when, const ntf_conf_t *cf,
       int lang)
{
    s_buf_t b = {.a = a};
    char deadline[64], request[24], answer[400], days[16];
    s_when(deadline, sizeof deadline, r->deadline_ms / 1000, lang);
    snprintf(request, sizeof request, "%llu", (unsigned long long)r->request_id);
    snprintf(days, sizeof days, "%u", cf ? cf->digest_days : 0);
    s_answer(answer, sizeof answer, r, cf, lang);
    const char *events = r->n_digest_items ? s_digest_list(a, r, lang) : "";
    if (!events)
        return NULL;
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
            PH("municipality", r->municipality_code)
            PH("title", r->event_title)
            PH("when", when)
            PH("place", r->event_place && r->event_place[0]
                            ? r->event_place
                            : (r->event_url && r->event_url[0] ? r->event_url : "-"))
#undef PH
            if (v) {
                s_puts(&b, v ? v : "");
                p += skip;
                continue;
            }
        }
        s_put(&b, p, 1);
        p++;
    }
    return s_done(&b);
}

/* ---- encodings -------------------------------------------------------------------------- */

char *
ntf_render_encoded_word(kp_arena_t *a, const char *s)
{
    s_buf_t b = {.a = a};
    size_t len = strlen(s), i = 0;
    if (len == 0)
        return s_done(&b);
    while (i < len) {
        size_t n = len - i > 45 ? 45 : len - i;
        /* Never split a UTF-8 sequence between two encoded-words (RFC 2047 6.3). */
        while (n > 1 && i + n < len && ((unsigned char)s[i + n] & 0xC0) == 0x80)
            n--;
        char b64[80];
        sodium_bin2base64(b64, sizeof b64, (const unsigned char *)s + i, n,
                          sodium_base64_VARIANT_ORIGINAL);
        if (i)
            s_puts(&b, "\r\n ");
        s_puts(&b, "=?UTF-8?B?");
        s_puts(&b, b64);
        s_puts(&b, "?=");
        i += n;
    }
    return s_done(&b);
}

static void
s_json_str(s_buf_t *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            char e[2] = {'\\', (char)*p};
            s_put(b, e, 2);
        } else if (*p < 0x20 || *p == 0x7f) {
            s_putf(b, "\\u%04x", *p);
        } else {
            s_put(b, (const char *)p, 1);
        }
    }
}

char *
ntf_render_sms_body(kp_arena_t *a, const char *tmpl, const char *to, const char *text)
{
    s_buf_t b = {.a = a};
    for (const char *p = tmpl; *p;) {
        if (strncmp(p, "{to}", 4) == 0) {
            s_json_str(&b, to);
            p += 4;
        } else if (strncmp(p, "{text}", 6) == 0) {
            s_json_str(&b, text);
            p += 6;
        } else {
            s_put(&b, p++, 1);
        }
    }
    return s_done(&b);
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
    s_buf_t b = {.a = a};
    s_putf(&b, "<%s.kumppani@%s>", hex, s_domain(from));
    return s_done(&b);
}

/* Text with LF as CRLF (and any stray CR dropped). */
static void
s_put_crlf(s_buf_t *b, const char *s)
{
    for (const char *p = s; *p; p++) {
        if (*p == '\r')
            continue;
        if (*p == '\n')
            s_put(b, "\r\n", 2);
        else
            s_put(b, p, 1);
    }
}

/* ---- iCalendar ---------------------------------------------------------------------------- */

static void
s_ical_line(s_buf_t *b, const char *name, const char *value, bool escape)
{
    s_buf_t l = {.a = b->a};
    s_puts(&l, name);
    s_puts(&l, ":");
    for (const char *p = value ? value : ""; *p; p++) {
        if (escape && (*p == '\\' || *p == ';' || *p == ',')) {
            char e[2] = {'\\', *p};
            s_put(&l, e, 2);
        } else if (escape && *p == '\n') {
            s_puts(&l, "\\n");
        } else if ((unsigned char)*p >= 0x20 && *p != 0x7f) {
            s_put(&l, p, 1);
        }
    }
    const char *s = s_done(&l);
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
            s_puts(b, "\r\n ");
        s_put(b, s + i, n);
        i += n;
        width = 74;
    }
    s_puts(b, "\r\n");
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
    s_buf_t b = {.a = a};
    char t[32], uid[64], seq[16];
    s_puts(&b, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Kumppani//Notifier//EN\r\n");
    s_puts(&b, cancel ? "METHOD:CANCEL\r\n" : "METHOD:PUBLISH\r\n");
    s_puts(&b, "BEGIN:VEVENT\r\n");
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
    snprintf(seq, sizeof seq, "%u", r->event_sequence);
    s_ical_line(&b, "SEQUENCE", seq, false);
    s_ical_line(&b, "SUMMARY", r->event_title, true);
    if (r->event_place && r->event_place[0])
        s_ical_line(&b, "LOCATION", r->event_place, true);
    if (r->event_url && r->event_url[0])
        s_ical_line(&b, "URL", r->event_url, false);
    s_ical_line(&b, "STATUS", cancel ? "CANCELLED" : "CONFIRMED", false);
    s_puts(&b, "END:VEVENT\r\nEND:VCALENDAR\r\n");
    return s_done(&b);
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
    const s_tmpl_t *t = &s_tmpl[r->kind][lang];
    out->subject = s_fill(a, t->subject, r, when, &n->conf, lang);
    out->text = s_fill(a, t->body, r, when, &n->conf, lang);
    if (!out->subject || !out->text)
        return KP_ENOMEM;
    bool cancel = r->kind == MK(EVENT_CANCELLED) || r->kind == MK(SIGNUP_CANCELLED);
    bool with_ical = r->event_start_unix && r->kind != MK(WAITLISTED) && r->kind != MK(OFFERED) &&
                     (r->kind < MK(EXPERT_OFFER) || r->kind == MK(EXPERT_CONFIRMED));
    out->ical = with_ical ? s_ical(a, r, now_ms, cancel) : (char *)"";
    if (!out->ical)
        return KP_ENOMEM;
    if (r->channel == CH(SMS)) {
        s_buf_t b = {.a = a};
        s_putf(&b, "%s, %s", out->subject, when);
        out->text = s_done(&b);
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
    s_buf_t b = {.a = a};
    s_putf(&b, "From: %s <%s>\r\n", from_name, n->conf.smtp_from);
    if (name[0])
        s_putf(&b, "To: %s <%s>\r\n", name, r->address);
    else
        s_putf(&b, "To: <%s>\r\n", r->address);
    s_puts(&b, "Subject: ");
    s_puts(&b, subject);
    s_puts(&b, "\r\n");
    s_putf(&b, "Date: %s\r\nMessage-ID: %s\r\n", date, msgid);
    s_putf(&b, "X-Kumppani-Key: %s\r\n", r->key);
    s_puts(&b, "MIME-Version: 1.0\r\nAuto-Submitted: auto-generated\r\n");
    s_putf(&b, "Content-Language: %s\r\n", lang == 1 ? "sv" : lang == 2 ? "en" : "fi");
    s_putf(&b, "Content-Type: multipart/mixed; boundary=\"kp-%s\"\r\n\r\n", bhex);
    s_putf(&b,
           "--kp-%s\r\nContent-Type: text/plain; charset=utf-8\r\n"
           "Content-Transfer-Encoding: 8bit\r\n\r\n",
           bhex);
    s_put_crlf(&b, out->text);
    if (out->ical[0]) {
        s_putf(&b,
               "\r\n--kp-%s\r\nContent-Type: text/calendar; charset=utf-8; method=%s\r\n"
               "Content-Transfer-Encoding: 8bit\r\n"
               "Content-Disposition: attachment; filename=\"event.ics\"\r\n\r\n",
               bhex, cancel ? "CANCEL" : "PUBLISH");
        s_puts(&b, out->ical);
    }
    s_putf(&b, "\r\n--kp-%s--\r\n", bhex);
    out->message = s_done(&b);
    if (!out->message)
        return KP_ENOMEM;
    out->message_len = b.len;
    return 0;
}
