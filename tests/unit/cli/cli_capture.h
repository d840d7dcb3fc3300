/*  cli_capture.h: for the CLI's unit tests, a row run with what it writes on one stream kept.
 *  Include after cmocka.h. */
#ifndef KP_CLI_CAPTURE_H
#define KP_CLI_CAPTURE_H

#include "cli_cmd.h"

#include <stdio.h>
#include <unistd.h>

/* What is written on a stream while it goes to a file (cli_capture_begin, cli_capture_end). */
typedef struct {
    FILE *stream, *file;
    int saved; /* the stream's own descriptor */
} cli_capture_t;

/* Sends stream (stdout or stderr) to a new file until cli_capture_end. */
static inline cli_capture_t
cli_capture_begin(FILE *stream)
{
    cli_capture_t k = {stream, tmpfile(), -1};
    assert_non_null(k.file);
    fflush(stream);
    k.saved = dup(fileno(stream));
    assert_true(k.saved >= 0);
    assert_true(dup2(fileno(k.file), fileno(stream)) >= 0);
    return k;
}

/* Gives the stream back; what was written on it goes to out (len bytes, ended by NUL, cut
 * short if it does not fit). */
static inline void
cli_capture_end(cli_capture_t *k, char *out, size_t len)
{
    fflush(k->stream);
    assert_true(dup2(k->saved, fileno(k->stream)) >= 0);
    close(k->saved);
    rewind(k->file);
    size_t n = fread(out, 1, len - 1, k->file);
    out[n] = '\0';
    fclose(k->file);
}

/* Runs c's row with stream (stdout or stderr) going to a file; what it wrote goes to out (len
 * bytes, ended by NUL, cut short if it does not fit). Returns the row's exit code. */
static inline int
cli_capture_run(cli_ctx_t *c, FILE *stream, char *out, size_t len)
{
    cli_capture_t k = cli_capture_begin(stream);
    int ex = cli_run_row(c);
    cli_capture_end(&k, out, len);
    return ex;
}

#endif
