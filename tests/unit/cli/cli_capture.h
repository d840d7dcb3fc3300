/*  cli_capture.h: for the CLI's unit tests, a row run with what it writes on one stream kept.
 *  Include after cmocka.h. */
#ifndef KP_CLI_CAPTURE_H
#define KP_CLI_CAPTURE_H

#include "cli_cmd.h"

#include <stdio.h>
#include <unistd.h>

/* Runs c's row with stream (stdout or stderr) going to a file; what it wrote goes to out (len
 * bytes, ended by NUL, cut short if it does not fit). Returns the row's exit code. */
static inline int
cli_capture_run(cli_ctx_t *c, FILE *stream, char *out, size_t len)
{
    FILE *f = tmpfile();
    assert_non_null(f);
    fflush(stream);
    int saved = dup(fileno(stream));
    assert_true(saved >= 0);
    assert_true(dup2(fileno(f), fileno(stream)) >= 0);
    int ex = cli_run_row(c);
    fflush(stream);
    assert_true(dup2(saved, fileno(stream)) >= 0);
    close(saved);
    rewind(f);
    size_t n = fread(out, 1, len - 1, f);
    out[n] = '\0';
    fclose(f);
    return ex;
}

#endif
