/*  registry/csv.c: CSV import and export (see ImportRequest and ExportRequest). */
#include "registry.h"

#define C(x) KUMPPANI__V1__CODE__CODE_##x

void
reg_import(kp_call_t *call, void *svc)
{
    (void)svc;
    kp_call_fail(call, C(INVALID), "not yet");
}

void
reg_export(kp_call_t *call, void *svc)
{
    (void)svc;
    kp_call_fail(call, C(INVALID), "not yet");
}
