/*  web/text.c: the three languages, the operator's text files and dates in Helsinki time.
 *
 *  Every word a page shows comes from templates/text/<lang>.txt and, for the back office,
 *  text/bo_<lang>.txt ("key = value" lines, '#' comments), loaded once at start into a value tree
 * that each page attaches as "t". A key missing from sv or en falls back to fi at load time, so a
 * page never shows a hole. The language of a request: ?lang= (then remembered in a cookie), else
 * the kp_lang cookie, else the best match of Accept-Language, else Finnish. */
#include "kp_time.h"
#include "web.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const web_lang_codes[WEB_LANG_N] = {"fi", "sv", "en"};

int
web_lang_parse(const char *code)
{
    for (int i = 0; code && i < WEB_LANG_N; i++)
        if (strcmp(code, web_lang_codes[i]) == 0)
            return i;
    return -1;
}

int
web_lang_accept(const char *h)
{
    int best = WEB_LANG_FI;
    double best_q = 0;
    while (h && *h) {
        while (*h == ' ' || *h == ',')
            h++;
        char tag[16];
        size_t n = 0;
        while (*h && *h != ',' && *h != ';' && *h != ' ') {
            if (n + 1 < sizeof tag)
                tag[n++] = (char)tolower((unsigned char)*h);
            h++;
        }
        tag[n] = 0;
        double q = 1;
        while (*h == ' ')
            h++;
        if (*h == ';') {
            const char *qs = strstr(h, "q=");
            const char *comma = strchr(h, ',');
            if (qs && (!comma || qs < comma))
                q = strtod(qs + 2, NULL);
            h = comma ? comma : h + strlen(h);
        }
        char primary[4] = {0};
        memcpy(primary, tag, n >= 2 ? 2 : n);
        if (n > 2 && tag[2] != '-')
            primary[0] = 0;
        int l = web_lang_parse(primary);
        if (l >= 0 && q > best_q) {
            best = l;
            best_q = q;
        }
        if (!*h)
            break;
        if (*h != ',')
            h++;
    }
    return best;
}

/* Reads text/<prefix><lang>.txt into the language's texts (made on the first file). */
static int
s_load_file(web_svc_t *svc, int lang, const char *prefix, char *why, size_t why_len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/text/%s%s.txt", svc->templates_dir, prefix,
             web_lang_codes[lang]);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(why, why_len, "%s: cannot read", path);
        return -1;
    }
    if (!svc->texts[lang])
        svc->texts[lang] = web_tv_new(svc->text_arena);
    web_tv_t *t = svc->texts[lang];
    char line[4096];
    unsigned no = 0;
    int rc = 0;
    while (fgets(line, sizeof line, f)) {
        no++;
        size_t n = strlen(line);
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p || *p == '#')
            continue;
        char *eq = strstr(p, " = ");
        if (!eq) {
            snprintf(why, why_len, "%s line %u: not \"key = value\"", path, no);
            rc = -1;
            break;
        }
        *eq = 0;
        web_tv_str(svc->text_arena, t, p, eq + 3);
    }
    fclose(f);
    return rc;
}

/* Copies every fi key missing from lang (fallback). */
static void
s_fallback(web_svc_t *svc, int lang, const char *dir, const char *prefix)
{
    char path[4096], line[4096];
    snprintf(path, sizeof path, "%s/text/%sfi.txt", dir, prefix);
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    while (fgets(line, sizeof line, f)) {
        char *eq = strstr(line, " = ");
        if (!eq || line[0] == '#')
            continue;
        *eq = 0;
        char *key = line;
        while (*key == ' ' || *key == '\t')
            key++;
        if (!web_tv_get(svc->texts[lang], key)) {
            const char *v = web_tv_get(svc->texts[WEB_LANG_FI], key);
            web_tv_str(svc->text_arena, svc->texts[lang], key, v);
        }
    }
    fclose(f);
}

int
web_texts_load(web_svc_t *svc, char *why, size_t why_len)
{
    /* The public pages' texts, then the back office's (text/bo_<lang>.txt). */
    for (int l = 0; l < WEB_LANG_N; l++)
        if (s_load_file(svc, l, "", why, why_len) || s_load_file(svc, l, "bo_", why, why_len))
            return -1;
    for (int l = 1; l < WEB_LANG_N; l++) {
        s_fallback(svc, l, svc->templates_dir, "");
        s_fallback(svc, l, svc->templates_dir, "bo_");
    }
    for (int l = 0; l < WEB_LANG_N; l++)
        web_tv_index(svc->text_arena, svc->texts[l]);
    if (kp_arena_refusals(svc->text_arena)) {
        snprintf(why, why_len, "text files larger than 4 MiB");
        return -1;
    }
    return 0;
}

const char *
web_text(web_req_t *r, const char *key)
{
    const char *v = web_tv_get(r->svc->texts[r->lang], key);
    return v ? v : key;
}

void
web_tv_textf(web_req_t *r, web_tv_t *obj, const char *key, const char *fmt, ...)
{
    char text_key[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text_key, sizeof text_key, fmt, ap);
    va_end(ap);
    web_tv_str(r->arena, obj, key, web_text(r, text_key));
}

void
web_time_text(web_req_t *r, int64_t unix_s, char *out, size_t len)
{
    struct tm tm;
    if (kp_time_local(unix_s, &tm) != 0) {
        snprintf(out, len, "?");
        return;
    }
    char wd[8];
    snprintf(wd, sizeof wd, "wd_%d", tm.tm_wday);
    if (r->lang == WEB_LANG_EN)
        snprintf(out, len, "%s %d/%d/%d %s %02d:%02d", web_text(r, wd), tm.tm_mday, tm.tm_mon + 1,
                 tm.tm_year + 1900, web_text(r, "at"), tm.tm_hour, tm.tm_min);
    else
        snprintf(out, len, "%s %d.%d.%d %s %d.%02d", web_text(r, wd), tm.tm_mday, tm.tm_mon + 1,
                 tm.tm_year + 1900, web_text(r, "at"), tm.tm_hour, tm.tm_min);
}

void
web_tv_time(web_req_t *r, web_tv_t *obj, const char *key, int64_t unix_s)
{
    char buf[128];
    web_time_text(r, unix_s, buf, sizeof buf);
    web_tv_str(r->arena, obj, key, buf);
}

void
web_tv_end_time(web_req_t *r, web_tv_t *obj, const char *key, int64_t start_s, int64_t end_s)
{
    struct tm tm;
    if (kp_time_day_start(end_s) != kp_time_day_start(start_s) || kp_time_local(end_s, &tm)) {
        web_tv_time(r, obj, key, end_s);
        return;
    }
    web_tv_strf(r->arena, obj, key, r->lang == WEB_LANG_EN ? "%02d:%02d" : "%d.%02d", tm.tm_hour,
                tm.tm_min);
}
